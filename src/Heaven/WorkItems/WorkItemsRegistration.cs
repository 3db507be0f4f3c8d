using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Heaven.WorkItems;

internal static class WorkItemsRegistration
{
    /// <summary>
    /// Registers <typeparamref name="THandler"/> and a <see cref="WorkItemConsumer"/> that feeds it.
    /// Idempotent: a second consumer of the same handler would only compete with the first.
    /// </summary>
    public static IServiceCollection AddWorkItemHandler<THandler>(this IServiceCollection services)
        where THandler : class, IWorkItemHandler
    {
        if (services.Any(d => d.ServiceType == typeof(THandler)))
        {
            return services;
        }

        services.TryAddSingleton<WorkItemSignal>();
        services.TryAddSingleton<OutboxFlush>();
        services.TryAddSingleton<Heaven.Telemetry.IOutboxStatistics, OutboxStatistics>();
        services.AddSingleton<THandler>();
        // Not AddHostedService: it keeps one service per implementation type, and every handler's
        // consumer is a WorkItemConsumer.
        services.AddSingleton<IHostedService>(sp => ActivatorUtilities.CreateInstance<WorkItemConsumer>(sp, (IWorkItemHandler)sp.GetRequiredService<THandler>()));
        return services;
    }
}
