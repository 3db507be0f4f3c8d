using Heaven.GitHub;
using Heaven.Masking;
using Heaven.Model;

namespace Heaven.Output;

/// <summary>Puts a deployment's masker, stored log and gist mirror together behind one sink.</summary>
internal sealed class DeploymentOutputFactory(DeploymentOutputs outputs, TimeProvider time) : IDeploymentOutputFactory
{
    /// <summary>A healthy GitHub creates a gist in well under this; a sick one must not hold the deploy up.</summary>
    private static readonly TimeSpan GistWait = TimeSpan.FromSeconds(3);

    public async Task<IDeploymentOutput> StartAsync(DeploymentRecord deployment, bool waitForGist, CancellationToken cancellationToken)
    {
        var masker = outputs.CreateMasker();
        var gist = outputs.CreateGistMirror(deployment.Id, deployment.Repository);
        gist?.Start();
        if (gist is not null && waitForGist)
        {
            try
            {
                // Woken the moment GitHub answers (or refuses), not at the next tick of a poll.
                await gist.Settled.WaitAsync(GistWait, time, cancellationToken);
            }
            catch (TimeoutException)
            {
                // Created later, if at all: the first status goes without a log link.
            }
        }

        return new DeploymentOutput(outputs.OpenLog(deployment.Id, masker, gist), gist, masker);
    }

    private sealed class DeploymentOutput(DeploymentLog log, GistMirror? gist, SecretMasker masker) : IDeploymentOutput
    {
        public ISecretMasker Masker => masker;

        public GistReference? Gist => gist?.Gist;

        public ValueTask WriteLineAsync(OutputStream stream, string line, CancellationToken cancellationToken) =>
            log.WriteLineAsync(stream, line, cancellationToken);

        public async Task CompleteAsync(CancellationToken cancellationToken)
        {
            // The stored log first: the gist mirrors what the log observed.
            await log.CompleteAsync(cancellationToken);
            if (gist is not null)
            {
                await gist.CompleteAsync(cancellationToken);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await log.DisposeAsync();
            if (gist is not null)
            {
                await gist.DisposeAsync();
            }
        }
    }
}
