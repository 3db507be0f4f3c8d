using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Heaven.Execution;

internal static class ExecutionRegistration
{
    public static IServiceCollection AddExecution(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(new ProcessRunnerOptions());
        services.TryAddSingleton<IProcessRunner, ProcessRunner>();
        return services;
    }
}
