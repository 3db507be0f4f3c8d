using Heaven.Checkout;
using Heaven.Deployments;
using Microsoft.Extensions.Options;

namespace Heaven.Providers;

/// <summary>
/// Whether Heaven runs a queued deployment, and with which provider: the one place the payload's
/// choice meets the server's per-repository policy (<see cref="RepositoryOptions"/>).
/// </summary>
/// <remarks>
/// A deployment naming no provider, or one Heaven does not have, is left alone without a status
/// (another deployment system may own it), policy or not. One naming a provider of Heaven's that the
/// policy forbids, or going to an environment the policy does not list, is refused: Errored, with an
/// <c>error</c> status saying so. A pinned provider replaces whatever provider of Heaven's the
/// payload named, and the logs say so.
/// </remarks>
public sealed partial class DeploymentAdmission(ProviderRegistry providers, IOptions<RepositoryOptions> repositories, ILogger<DeploymentAdmission> logger)
    : IDeploymentAdmission
{
    /// <summary>Also records on the deployment which provider it asked for.</summary>
    public string? ReasonToIgnore(DeploymentRecord deployment) => providers.ReasonToIgnore(deployment);

    /// <summary>Applies the repository's policy; may replace <see cref="DeploymentRecord.Provider"/> with the pinned one.</summary>
    public string? ReasonToRefuse(DeploymentRecord deployment)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        var policy = repositories.Value.For(deployment.Repository);
        if (policy is null)
        {
            return null;
        }

        if (policy.Provider is { } pinned)
        {
            if (!string.Equals(deployment.Provider, pinned, StringComparison.Ordinal))
            {
                Log.Pinned(logger, deployment.Id, deployment.Repository, deployment.Provider ?? "-", pinned);
                deployment.Provider = pinned;
            }
        }
        else if (policy.Providers.Count > 0 && !policy.Providers.Contains(deployment.Provider, StringComparer.Ordinal))
        {
            return Refuse(deployment, $"provider {RefName.Quote(deployment.Provider)} is not allowed for {deployment.Repository} (allowed: {string.Join(", ", policy.Providers)})");
        }

        if (policy.Environments.Count > 0 && !policy.Environments.Contains(deployment.Environment, StringComparer.OrdinalIgnoreCase))
        {
            return Refuse(deployment, $"environment {RefName.Quote(deployment.Environment)} is not allowed for {deployment.Repository} (allowed: {string.Join(", ", policy.Environments)})");
        }

        return null;
    }

    /// <summary>The line for the deploy log when the provider that runs is not the one the payload asked for.</summary>
    public static string? PinNotice(DeploymentRecord deployment)
    {
        var asked = ProviderRegistry.ProviderOf(deployment.PayloadJson);
        return asked is not null && !string.Equals(asked, deployment.Provider, StringComparison.Ordinal)
            ? $"payload.config.provider asks for {RefName.Quote(asked)}, but {RepositoryOptions.Section}:{deployment.Repository}:Provider pins '{deployment.Provider}': running that instead"
            : null;
    }

    private string Refuse(DeploymentRecord deployment, string reason)
    {
        Log.Refused(logger, deployment.Id, reason);
        return reason;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId} of {Repository} asked for provider {Asked}; the repository's settings pin {Pinned}, which runs instead")]
        public static partial void Pinned(ILogger logger, long deploymentId, string repository, string asked, string pinned);

        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId} refused by its repository's settings: {Reason}")]
        public static partial void Refused(ILogger logger, long deploymentId, string reason);
    }
}
