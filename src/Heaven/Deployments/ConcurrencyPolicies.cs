using Heaven.Repositories;
using Microsoft.Extensions.Options;

namespace Heaven.Deployments;

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
