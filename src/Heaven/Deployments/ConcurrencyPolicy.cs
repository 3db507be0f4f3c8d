using Heaven.Providers;
using Microsoft.Extensions.Options;

namespace Heaven.Deployments;

/// <summary>What happens to a deployment whose environment is busy with another deploy.</summary>
public enum ConcurrencyPolicy
{
    /// <summary>Closed at once with <c>error</c> "Already deploying." (the original Heaven).</summary>
    Reject,

    /// <summary>Waits its turn, first come first served, with a <c>queued</c> status.</summary>
    Queue,

    /// <summary>Waits, but only the newest waiting deployment is kept; older waiting ones are closed.</summary>
    Supersede,
}

/// <summary>
/// The policy for one (repository, environment): <c>Repositories:&lt;repo&gt;:Environments:&lt;env&gt;:Concurrency</c>,
/// else <c>Repositories:&lt;repo&gt;:Concurrency</c>, else <c>Deployments:Concurrency</c>.
/// </summary>
public sealed class ConcurrencyPolicies(IOptions<DeploymentOptions> deployments, IOptions<RepositoryOptions> repositories)
{
    public ConcurrencyPolicy For(string repository, string environment) =>
        repositories.Value.For(repository) is { } settings && settings.ConcurrencyFor(environment) is { } own
            ? own
            : deployments.Value.Concurrency;

    public int MaxQueueLength => deployments.Value.MaxQueueLength;
}
