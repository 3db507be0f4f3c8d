using Heaven.Configuration;
using Heaven.Locks;
using Heaven.Providers;
using Heaven.Repositories;
using Heaven.Ssh;
using Microsoft.Extensions.Options;

namespace Heaven.Deployments;

internal static class DeploymentsRegistration
{
    /// <summary>The queue, the dispatcher, the runner, the reaper and the providers.</summary>
    public static IServiceCollection AddDeployments(this IServiceCollection services)
    {
        services.AddSingleton(sp => NodeIdentity.Load(sp.GetRequiredService<DataDirectory>()));
        services.AddSingleton<DeploymentQueue>();
        services.AddSingleton<NodeDrains>();
        services.AddSingleton<NodeMembership>();
        services.AddSingleton<ConcurrencyPolicies>();
        services.AddLocks();
        services.AddSingleton<DeployPipeline>();
        services.AddSingleton<DeploymentRunner>();

        services.AddSingleton<DeployCredentialsFactory>();
        services.AddSingleton<IDeployProvider, ShellProvider>();
        services.AddSingleton<IDeployProvider, FabricProvider>();
        services.AddSingleton<IDeployProvider, CapistranoProvider>();
        services.AddSingleton<IDeployProvider, BundlerCapistranoProvider>();
        services.AddSingleton<IDeployProvider, AnsibleProvider>();
        services.AddSingleton<IDeployProvider, CommandProvider>();
        services.AddSingleton<IDeployProvider, HerokuProvider>();
        services.AddSingleton<IDeployProvider, ElasticBeanstalkProvider>();
        services.AddSingleton<IDeployProvider, DplProvider>();
        HerokuApi.AddHttpClient(services);
        services.AddSingleton<ProviderRegistry>();
        services.AddSingleton<TargetPolicy>();
        services.AddValidatedOptions<FabricOptions>(FabricOptions.Section);
        services.AddValidatedOptions<BundlerOptions>(BundlerOptions.Section);
        services.AddCheckedOptions<RepositoryOptions>(RepositoryOptions.Section)
            .Configure<IConfiguration>((options, configuration) => options.Load(configuration.GetSection(RepositoryOptions.Section)));
        services.AddSingleton<IValidateOptions<RepositoryOptions>, RepositoryOptionsValidator>();
        services.AddSingleton<DeploymentAdmission>();

        services.AddSingleton<DeploymentDispatcher>();
        services.AddSingleton<IDeploymentSignal>(sp => sp.GetRequiredService<DeploymentDispatcher>());
        // Before the dispatcher, so it stops after it: the node keeps heart-beating while its deploys drain.
        services.AddHostedService<NodeHeartbeat>();
        services.AddHostedService(sp => sp.GetRequiredService<DeploymentDispatcher>());
        services.AddHostedService<DeploymentReaper>();
        return services;
    }
}
