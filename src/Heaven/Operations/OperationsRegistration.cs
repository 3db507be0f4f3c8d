namespace Heaven.Operations;

internal static class OperationsRegistration
{
    /// <summary>The read models and actions the pages, the API and the CLI share.</summary>
    public static IServiceCollection AddOperations(this IServiceCollection services)
    {
        services.AddSingleton<DeploymentQueries>();
        services.AddSingleton<ActivityQueries>();
        services.AddSingleton<DeploymentActions>();
        return services;
    }
}
