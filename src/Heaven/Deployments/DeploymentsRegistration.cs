using Heaven.Configuration;
using Heaven.Providers;
using Heaven.Storage;
using Heaven.Web;

namespace Heaven.Deployments;

public static class DeploymentsRegistration
{
    /// <summary>The queue, the dispatcher, the runner, the reaper and the providers.</summary>
    public static IServiceCollection AddDeployments(this IServiceCollection services)
    {
        services.AddSingleton(sp => NodeIdentity.Load(sp.GetRequiredService<DataDirectory>()));
        services.AddSingleton<DeploymentQueue>();
        services.AddSingleton<DeployPipeline>();
        services.AddSingleton<DeploymentRunner>();
        services.AddSingleton<ServerKeyStore>();
        services.AddSingleton<LogLinks>();
        services.AddSingleton<ILogLinks>(sp => sp.GetRequiredService<LogLinks>());

        services.AddSingleton<IDeployProvider, ShellProvider>();
        services.AddSingleton<IDeployProvider, HerokuProvider>();
        services.AddSingleton<IDeployProvider, ElasticBeanstalkProvider>();
        services.AddSingleton<IDeployProvider, DplProvider>();
        HerokuApi.AddHttpClient(services);
        services.AddSingleton<ProviderRegistry>();
        services.AddSingleton<IDeploymentAdmission>(sp => sp.GetRequiredService<ProviderRegistry>());

        services.AddSingleton<DeploymentDispatcher>();
        services.AddSingleton<IDeploymentSignal>(sp => sp.GetRequiredService<DeploymentDispatcher>());
        services.AddHostedService(sp => sp.GetRequiredService<DeploymentDispatcher>());
        services.AddHostedService<DeploymentReaper>();
        return services;
    }
}
