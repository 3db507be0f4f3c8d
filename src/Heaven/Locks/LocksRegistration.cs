using Heaven.Configuration;

namespace Heaven.Locks;

internal static class LocksRegistration
{
    public static IServiceCollection AddLocks(this IServiceCollection services)
    {
        services.AddValidatedOptions<LockOptions>(LockOptions.Section);
        services.AddSingleton<EnvironmentLocks>();
        return services;
    }
}
