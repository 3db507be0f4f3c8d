using Heaven.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Heaven.Execution;

internal static class ExecutionRegistration
{
    public static IServiceCollection AddExecution(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(new ProcessRunnerOptions());
        services.AddValidatedOptions<IsolationOptions>(IsolationOptions.Section);
        services.TryAddSingleton(sp => Workspaces.From(sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<DataDirectory>()));
        services.TryAddSingleton<SandboxView>();
        services.TryAddSingleton<DeployIsolation>();
        services.TryAddSingleton<IProcessRunner>(sp => sp.GetService<DataDirectory>() is null
            ? new ProcessRunner(sp.GetRequiredService<ProcessRunnerOptions>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ProcessRunner>>())
            : new ProcessRunner(
            sp.GetRequiredService<ProcessRunnerOptions>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ProcessRunner>>(),
            sp.GetRequiredService<DeployIsolation>(),
            sp.GetRequiredService<Workspaces>()));
        return services;
    }
}
