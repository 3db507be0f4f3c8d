using Heaven.GitHub;
using Heaven.Masking;
using Heaven.Model;
using Heaven.Storage;
using Microsoft.Extensions.Options;

namespace Heaven.Output;

/// <summary>
/// What a runner needs for one deployment's output: a masker scoped to it, the stored log, the gist mirror.
/// </summary>
public sealed class DeploymentOutputs(
    SecretMasker serverMasker,
    IHeavenDatabase database,
    IOptions<OutputOptions> options,
    TimeProvider timeProvider,
    ILoggerFactory loggerFactory,
    IGitHub? gitHub = null,
    LiveLogs? liveLogs = null,
    ClusterSignals? cluster = null)
{
    /// <summary>A masker with every server secret; add the deployment's own secrets to it.</summary>
    public SecretMasker CreateMasker() => serverMasker.CreateScope();

    /// <summary>
    /// The deployment's stored log, live on this node while it is written; <paramref name="observer"/>
    /// (the gist mirror) sees the masked output too.
    /// </summary>
    public DeploymentLog OpenLog(long deploymentId, ISecretMasker masker, IDeploymentLogObserver? observer = null) =>
        new(deploymentId, masker, database, options.Value, timeProvider, loggerFactory.CreateLogger<DeploymentLog>(), observer, liveLogs, cluster);

    /// <summary>A gist mirror, not yet started; null when gists are switched off or Heaven has no GitHub client.</summary>
    public GistMirror? CreateGistMirror(long deploymentId, string repository, string? logUrl = null) =>
        options.Value.MirrorToGist && gitHub is not null
            ? new GistMirror(gitHub, deploymentId, repository, options.Value, timeProvider, loggerFactory.CreateLogger<GistMirror>(), logUrl)
            : null;
}
