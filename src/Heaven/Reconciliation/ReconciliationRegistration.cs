using Heaven.Configuration;

namespace Heaven.Reconciliation;

internal static class ReconciliationRegistration
{
    /// <summary>
    /// Reconciliation of missed webhooks. Registered after the intake: hosted services start in order,
    /// so the recorder it writes through is running before the first pass.
    /// </summary>
    public static IServiceCollection AddReconciliation(this IServiceCollection services)
    {
        services.AddValidatedOptions<ReconciliationOptions>(ReconciliationOptions.Section);
        services.AddSingleton<Reconciler>();
        services.AddSingleton<ReconciliationLoop>();
        services.AddHostedService(sp => sp.GetRequiredService<ReconciliationLoop>());
        return services;
    }
}
