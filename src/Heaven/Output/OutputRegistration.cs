using Heaven.Configuration;
using Heaven.GitHub;
using Heaven.Masking;
using Heaven.Storage;
using Microsoft.Extensions.Options;

namespace Heaven.Output;

internal static class OutputRegistration
{
    public static IServiceCollection AddOutput(this IServiceCollection services)
    {
        services.AddValidatedOptions<OutputOptions>(OutputOptions.Section);
        services.AddMasking();
        services.AddSingleton<DeploymentLogReader>();
        services.AddSingleton<LiveLogs>();
        services.AddSingleton<DeploymentLogFollower>();
        services.AddSingleton(sp => new DeploymentOutputs(
            sp.GetRequiredService<SecretMasker>(),
            sp.GetRequiredService<IHeavenDatabase>(),
            sp.GetRequiredService<IOptions<OutputOptions>>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetService<IGitHub>(),
            sp.GetRequiredService<LiveLogs>(),
            sp.GetService<ClusterSignals>()));
        services.AddSingleton<IDeploymentOutputFactory, DeploymentOutputFactory>();
        return services;
    }
}
