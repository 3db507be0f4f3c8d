using Heaven.Configuration;
using Heaven.Masking;
using Heaven.Model;
using Heaven.WorkItems;
using Microsoft.Extensions.Options;

namespace Heaven.Notifications;

internal static class NotificationsRegistration
{
    /// <summary>The notifiers and the sender that feeds them from the outbox.</summary>
    public static IServiceCollection AddNotifications(this IServiceCollection services)
    {
        // Idempotent: a second consumer would only compete with the first for the same items.
        if (services.Any(d => d.ServiceType == typeof(NotificationSender)))
        {
            return services;
        }

        services.AddValidatedOptions<NotificationOptions>(NotificationOptions.Section);
        services.AddHttpClient(NotifierHttp.ClientName, (sp, client) =>
            {
                client.Timeout = sp.GetRequiredService<IOptions<NotificationOptions>>().Value.RequestTimeout;
                client.DefaultRequestHeaders.UserAgent.ParseAdd("Heaven-Notifications");
            })
            // The factory's own logging writes every request URI, and webhook URLs are secrets.
            .RemoveAllLoggers();
        // Every message is masked with the server's masker on its way into a notifier.
        services.AddMasking();
        AddNotifier<SlackNotifier>(services);
        AddNotifier<TeamsNotifier>(services);
        AddNotifier<DiscordNotifier>(services);
        AddNotifier<WebhookNotifier>(services);
        AddNotifier<HipChatNotifier>(services);
        AddNotifier<CampfireNotifier>(services);
        AddNotifier<CampfireBotNotifier>(services);
        // GitHub is optional: DeploymentHistory takes the repository API when AddGitHub registered one.
        services.AddSingleton<DeploymentHistory>();
        services.AddSingleton(sp => new ChatServiceProbe(sp.GetRequiredService<IHttpClientFactory>(), sp.GetRequiredService<IOptions<NotificationOptions>>()));
        services.AddWorkItemHandler<NotificationSender>();
        return services;
    }

    private static void AddNotifier<TNotifier>(IServiceCollection services)
        where TNotifier : class, INotifier
    {
        services.AddSingleton<TNotifier>();
        services.AddSingleton<INotifier>(sp => new MaskingNotifier(sp.GetRequiredService<TNotifier>(), sp.GetRequiredService<ISecretMasker>()));
    }
}
