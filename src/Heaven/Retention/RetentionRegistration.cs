using Heaven.Configuration;
using Heaven.WorkItems;

namespace Heaven.Retention;

internal static class RetentionRegistration
{
    /// <summary>
    /// The clean-up of old deliveries, outbox items, decisions and logs. Registered right after the
    /// storage: hosted services stop in reverse order, so the clean-up has stopped before the SQLite
    /// file is let go.
    /// </summary>
    public static IServiceCollection AddRetention(this IServiceCollection services)
    {
        services.AddValidatedOptions<RetentionOptions>(RetentionOptions.Section);
        services.AddSingleton<Housekeeping>();
        services.AddWorkItemHandler<GistDeleter>();
        services.AddHostedService(sp => sp.GetRequiredService<Housekeeping>());
        return services;
    }
}
