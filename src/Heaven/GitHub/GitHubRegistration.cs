using Heaven.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Heaven.GitHub;

public static class GitHubRegistration
{
    /// <summary>
    /// The GitHub adapter, the deployment status outbox and its sender. Expects
    /// <see cref="GitHubOptions"/> to be registered (the host does that for all settings).
    /// </summary>
    public static IServiceCollection AddGitHub(this IServiceCollection services)
    {
        // Idempotent: a second sender would only compete with the first for the same items.
        if (services.Any(d => d.ServiceType == typeof(DeploymentStatusSender)))
        {
            return services;
        }

        services.AddValidatedOptions<StatusDeliveryOptions>(StatusDeliveryOptions.Section);
        // TryAdd: an adapter registered earlier (another authentication, a test double) wins.
        services.TryAddSingleton<OctokitGitHub>();
        services.TryAddSingleton<IGitHub>(sp => sp.GetRequiredService<OctokitGitHub>());
        services.TryAddSingleton<IGitHubRepositoryApi>(sp => sp.GetRequiredService<OctokitGitHub>());
        services.TryAddSingleton<Heaven.WorkItems.WorkItemSignal>();
        services.AddSingleton<IDeploymentStatusPoster, DeploymentStatusPoster>();
        services.AddSingleton<DeploymentStatusSender>();
        services.AddHostedService(sp => sp.GetRequiredService<DeploymentStatusSender>());
        return services;
    }
}
