using Heaven.Checkout;
using Heaven.Configuration;
using Heaven.Execution;
using Heaven.GitHub;
using Heaven.Model;
using Heaven.Providers;
using Heaven.Repositories;
using Heaven.Ssh;
using Heaven.Telemetry;
using Microsoft.Extensions.Options;

namespace Heaven.Deployments;

/// <summary>
/// The deploy itself, shared by the server's runner and <c>heaven deploy-local</c>: prepare the
/// deployment's ssh credentials, check out the exact commit, run the provider under the timeout,
/// and say how it ended. The credentials (agent, known hosts) outlive the provider and no more.
/// </summary>
internal sealed partial class DeployPipeline(
    ICheckout checkout,
    ProviderRegistry providers,
    DeployCredentialsFactory credentials,
    IOptions<RepositoryOptions> repositories,
    NodeIdentity node,
    DeployIsolation isolation,
    Workspaces workspaces,
    HeavenMetrics metrics,
    TimeProvider time,
    ILogger<DeployPipeline> logger)
{
    /// <summary>The <c>HEAVEN_RUN_OWNER</c> value of a deployment's processes; <c>node-id/</c> prefixes all of a node's.</summary>
    public static string OwnerOf(NodeIdentity node, long deploymentId) => $"{node.Id}/{deploymentId.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    /// <summary>
    /// Deploys and says how it went. The words are masked here, with the deployment's own masker (which
    /// knows the server's secrets and the deployment's, such as a tarball link's token), whatever wrote
    /// them: a provider, or the message of an exception. They go on to GitHub, the chat rooms and the log.
    /// </summary>
    public async Task<ProviderOutcome> RunAsync(
        DeploymentRecord deployment,
        IOutputSink output,
        ISecretMasker masker,
        string? logUrl,
        TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(masker);
        var outcome = await DeployAsync(deployment, output, masker, logUrl, timeout, cancellationToken);
        return outcome with { Description = masker.Mask(outcome.Description) };
    }

    private async Task<ProviderOutcome> DeployAsync(
        DeploymentRecord deployment,
        IOutputSink output,
        ISecretMasker masker,
        string? logUrl,
        TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        try
        {
            var provider = providers.Find(deployment.Provider);
            if (provider is null)
            {
                return ProviderOutcome.Error($"provider '{deployment.Provider}' is not one of Heaven's ({string.Join(", ", providers.Names.Order())})");
            }

            await output.WriteLineAsync(OutputStream.Heaven, $"Heaven deployment {deployment.Id}: {deployment.Repository} {deployment.Ref} ({deployment.Sha}) to {deployment.Environment}, task {deployment.Task}, provider {deployment.Provider}", cancellationToken);
            if (DeploymentAdmission.PinNotice(deployment) is { } notice)
            {
                await output.WriteLineAsync(OutputStream.Heaven, notice, cancellationToken);
            }

            // Said in every log: who the deploy runs as, and what of Heaven it could reach.
            var isolated = await isolation.GetAsync(cancellationToken);
            await output.WriteLineAsync(OutputStream.Heaven, isolated.Summary, cancellationToken);
            if (isolated.Refusal is not null)
            {
                return ProviderOutcome.Error("Refused: Deployments:Isolation is required, but this host cannot isolate deploys (see the log)");
            }

            // Disposed in reverse: the checkout, then the agent once nothing can use it any more, then the folder.
            await using var workspace = workspaces.Create(deployment.Id, isolated.User);
            await using var ssh = await credentials.CreateAsync(deployment.Id, OwnKey(deployment), output, masker, timeout, cancellationToken, workspace, isolated.IsIsolated);
            var checkoutSpan = HeavenTracing.Source.StartActivity(HeavenTracing.CheckoutSpan);
            checkoutSpan?.SetTag(HeavenTracing.RepositoryAttribute, deployment.Repository).SetTag("vcs.ref.head.revision", deployment.Sha);
            IWorktree worktree;
            try
            {
                worktree = await checkout.PrepareAsync(
                    new CheckoutRequest(deployment.Repository, deployment.CloneUrl, deployment.Ref, deployment.Sha, deployment.Id, ssh.GitEnvironment, workspace), output, cancellationToken);
            }
            catch (Exception e)
            {
                checkoutSpan?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, e.GetType().Name);
                throw;
            }
            finally
            {
                checkoutSpan?.Dispose();
            }

            await using var disposeWorktree = worktree;
            // The owner mark lets this node, restarted after a crash, stop what the deploy left running.
            var environment = new Dictionary<string, string>(ssh.ToolEnvironment) { [ProcessRunner.RunOwnerVariable] = OwnerOf(node, deployment.Id) };
            var context = new DeployContext(deployment, deployment.Payload, worktree.Path, output, masker, logUrl, timeout) { ExtraEnvironment = environment, Workspace = workspace, Isolated = isolated.IsIsolated };
            // The queue wait ends here, where the provider starts: what a person waits for after the 202.
            metrics.ProviderStarting(time.GetUtcNow() - new DateTimeOffset(DateTime.SpecifyKind(deployment.ReceivedAt, DateTimeKind.Utc)));
            using var providerSpan = HeavenTracing.Source.StartActivity(HeavenTracing.ProviderSpan);
            providerSpan?.SetTag(HeavenTracing.ProviderAttribute, provider.Name);
            var outcome = await provider.DeployAsync(context, cancellationToken);
            providerSpan?.SetTag("heaven.provider.result", outcome.Result.ToString());
            if (outcome.Result != DeployResult.Success)
            {
                providerSpan?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, outcome.Result.ToString());
            }

            return outcome;
        }
        catch (Exception e) when (e is CheckoutException or CredentialsException or ProcessStartException)
        {
            // Their messages are written for people; one that quotes a secret is masked with the rest.
            return ProviderOutcome.Error(e.Message);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new ProviderOutcome(DeployResult.Cancelled, "Cancelled");
        }
        catch (Exception e)
        {
            Log.Crashed(logger, deployment.Id, e);
            return ProviderOutcome.Error($"Heaven failed while deploying ({e.GetType().Name}); see Heaven's log");
        }
    }

    /// <summary>The repository's own deploy key, which replaces the server's for its deployments, or null.</summary>
    private RepositoryDeployKey? OwnKey(DeploymentRecord deployment) =>
        repositories.Value.For(deployment.Repository) is { DeployKey: { } key } settings
            ? new RepositoryDeployKey(key, settings.Key("DeployKey"))
            : null;

    /// <summary>The final state, the GitHub state and the words for an outcome.</summary>
    public static (DeploymentState State, GitHubDeploymentState GitHubState, string Description) Conclude(DeploymentRecord deployment, ProviderOutcome outcome, TimeSpan took) =>
        outcome.Result switch
        {
            DeployResult.Success => (DeploymentState.Succeeded, GitHubDeploymentState.Success, StatusTexts.Deployed(deployment, took)),
            DeployResult.Failure => (DeploymentState.Failed, GitHubDeploymentState.Failure, outcome.Description),
            DeployResult.Cancelled => (DeploymentState.Cancelled, GitHubDeploymentState.Error, outcome.Description),
            _ => (DeploymentState.Errored, GitHubDeploymentState.Error, outcome.Description),
        };

    /// <summary><c>payload.config.&lt;environment&gt;_url</c>, when it is an http(s) URL.</summary>
    public static string? EnvironmentUrl(DeploymentRecord deployment) =>
        deployment.Payload.EnvironmentUrl(deployment.Environment) is { } url
            && Uri.TryCreate(url, UriKind.Absolute, out var parsed) && parsed.Scheme is "http" or "https"
            ? url
            : null;

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "Deployment {DeploymentId} failed inside Heaven")]
        public static partial void Crashed(ILogger logger, long deploymentId, Exception exception);
    }
}
