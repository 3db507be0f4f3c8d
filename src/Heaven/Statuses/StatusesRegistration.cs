using Heaven.Configuration;
using Heaven.GitHub;
using Heaven.Masking;
using Heaven.WorkItems;

namespace Heaven.Statuses;

internal static class StatusesRegistration
{
    /// <summary>The GitHub adapter, the deployment status outbox and its sender.</summary>
    public static IServiceCollection AddStatuses(this IServiceCollection services)
    {
        // Idempotent: a second sender would only compete with the first for the same items.
        if (services.Any(d => d.ServiceType == typeof(DeploymentStatusSender)))
        {
            return services;
        }

        services.AddGitHub();
        // Every description is masked with the server's masker as it is enqueued.
        services.AddMasking();
        services.AddValidatedOptions<StatusDeliveryOptions>(StatusDeliveryOptions.Section);
        services.AddSingleton<IDeploymentStatusPoster, DeploymentStatusPoster>();
        services.AddWorkItemHandler<DeploymentStatusSender>();
        return services;
    }
}
