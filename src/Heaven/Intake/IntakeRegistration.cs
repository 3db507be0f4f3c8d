using Heaven.Configuration;
using Heaven.Masking;
using Heaven.Repositories;
using Heaven.WorkItems;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Heaven.Intake;

internal static class IntakeRegistration
{
    public static IServiceCollection AddIntake(this IServiceCollection services)
    {
        services.AddSingleton(sp => WebhookSecrets.Load(
            sp.GetRequiredService<IOptions<WebhookOptions>>(),
            sp.GetRequiredService<IOptions<RepositoryOptions>>(),
            sp.GetRequiredService<DataDirectory>()));
        // The webhook secrets (the repositories' own too) are masked wherever text leaves Heaven, like the configured secrets.
        services.AddSingleton<IServerSecretSource>(sp => sp.GetRequiredService<WebhookSecrets>());
        services.AddSingleton<IValidateOptions<RepositoryOptions>, RepositoryWebhookSecretsValidator>();
        services.AddSingleton<PendingBodyBudget>();
        services.AddSingleton<SignatureVerifier>();
        services.AddSingleton<RepositoryAllowList>();
        services.AddSingleton<SourceAddressFilter>();
        services.AddSingleton<SavedHookRanges>();
        services.AddSingleton<GitHubMetaRanges>();
        GitHubMetaRanges.AddHttpClient(services);
        services.AddTrustedProxies();
        services.AddSingleton<WebhookEndpoint>();
        // TryAdd: the consumers it wakes register the same one.
        services.TryAddSingleton<WorkItemSignal>();
        services.AddSingleton<DeliveryRecorder>();
        services.AddSingleton<IDeliveryRecorder>(sp => sp.GetRequiredService<DeliveryRecorder>());
        services.AddHostedService(sp => sp.GetRequiredService<DeliveryRecorder>());
        services.AddSingleton<DeliveryReplay>();
        return services;
    }
}
