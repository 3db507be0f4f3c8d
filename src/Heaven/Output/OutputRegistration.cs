using Heaven.Configuration;
using Heaven.GitHub;
using Heaven.Intake;
using Heaven.Storage;
using Microsoft.Extensions.Options;

namespace Heaven.Output;

public static class OutputRegistration
{
    public static IServiceCollection AddOutput(this IServiceCollection services)
    {
        services.AddValidatedOptions<OutputOptions>(OutputOptions.Section);
        services.AddSingleton(sp => SecretMasker.ForServer(
            sp.GetRequiredService<IConfiguration>(),
            sp.GetService<WebhookSecrets>()?.Values));
        // For masking outside a deployment (status descriptions, error messages); a deployment's own
        // secrets go into its scope from DeploymentOutputs.CreateMasker, never into this one.
        services.AddSingleton<ISecretMasker>(sp => sp.GetRequiredService<SecretMasker>());
        services.AddSingleton<DeploymentLogReader>();
        services.AddSingleton(sp => new DeploymentOutputs(
            sp.GetRequiredService<SecretMasker>(),
            sp.GetRequiredService<IHeavenDatabase>(),
            sp.GetRequiredService<IOptions<OutputOptions>>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetService<IGitHub>()));
        services.AddSingleton<IDeploymentOutputFactory, DeploymentOutputFactory>();
        return services;
    }
}
