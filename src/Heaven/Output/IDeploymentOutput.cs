using Heaven.Model;

namespace Heaven.Output;

/// <summary>
/// The output of one running deployment: a masking sink whose lines are stored (any node can serve
/// them) and mirrored to a secret gist. Completing it flushes everything before the final status.
/// </summary>
internal interface IDeploymentOutput : IOutputSink, IAsyncDisposable
{
    /// <summary>This deployment's masker: the server's secrets plus any the provider registers.</summary>
    ISecretMasker Masker { get; }

    /// <summary>The gist mirroring the log, once created (null without a GitHub token or when GitHub refused).</summary>
    Heaven.GitHub.GistReference? Gist { get; }

    /// <summary>Flushes the stored log and brings the gist up to date.</summary>
    Task CompleteAsync(CancellationToken cancellationToken);
}

internal interface IDeploymentOutputFactory
{
    /// <summary>
    /// Starts the output of a deployment. With <paramref name="waitForGist"/> (the gist is the log link),
    /// waits a bounded time for the gist to exist so the first status can link to it.
    /// </summary>
    Task<IDeploymentOutput> StartAsync(Heaven.Model.DeploymentRecord deployment, bool waitForGist, CancellationToken cancellationToken);
}
