using Heaven.Deployments;
using Heaven.Storage;

namespace Heaven.Web;

internal static class WebRegistration
{
    /// <summary>The health checks and the signed log links the statuses point at.</summary>
    public static IServiceCollection AddWeb(this IServiceCollection services)
    {
        services.AddHeavenHealthChecks();
        services.AddSingleton<ServerKeyStore>();
        services.AddSingleton<LogLinks>();
        services.AddSingleton<ILogLinks>(sp => sp.GetRequiredService<LogLinks>());
        return services;
    }
}
