using Heaven.Configuration;
using Heaven.WorkItems;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Heaven.Notifications;

public static class NotificationsRegistration
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
        services.AddSingleton<INotifier, SlackNotifier>();
        services.AddSingleton<INotifier, TeamsNotifier>();
        services.AddSingleton<INotifier, DiscordNotifier>();
        services.AddSingleton<INotifier, WebhookNotifier>();
        services.AddSingleton<INotifier, HipChatNotifier>();
        services.AddSingleton<INotifier, CampfireNotifier>();
        services.AddSingleton<INotifier, CampfireBotNotifier>();
        // GitHub is optional: DeploymentHistory takes the repository API when AddGitHub registered one.
        services.AddSingleton<DeploymentHistory>();
        services.AddWorkItemHandler<NotificationSender>();
        return services;
    }
}
