using Heaven.Configuration;
using Heaven.WorkItems;

namespace Heaven.AutoDeploy;

internal static class AutoDeployRegistration
{
    /// <summary>The evaluator and the service that feeds it recorded commit events.</summary>
    public static IServiceCollection AddAutoDeploy(this IServiceCollection services)
    {
        // Idempotent: a second service would only compete with the first for the same events.
        if (services.Any(d => d.ServiceType == typeof(AutoDeployer)))
        {
            return services;
        }

        services.AddValidatedOptions<AutoDeployOptions>(AutoDeployOptions.Section);
        services.AddSingleton<AutoDeployEvaluator>();
        services.AddWorkItemHandler<AutoDeployer>();
        return services;
    }
}
