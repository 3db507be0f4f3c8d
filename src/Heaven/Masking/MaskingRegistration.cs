using Heaven.Model;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Heaven.Masking;

internal static class MaskingRegistration
{
    /// <summary>
    /// The server's masker: every configured secret and every <see cref="IServerSecretSource"/>'s. For
    /// masking outside a deployment (status descriptions, error messages); a deployment's own secrets
    /// go into a scope of its own, never into this one.
    /// </summary>
    public static IServiceCollection AddMasking(this IServiceCollection services)
    {
        services.TryAddSingleton(sp => SecretMasker.ForServer(
            sp.GetRequiredService<IConfiguration>(),
            sp.GetServices<IServerSecretSource>().SelectMany(s => s.Secrets)));
        services.TryAddSingleton<ISecretMasker>(sp => sp.GetRequiredService<SecretMasker>());
        return services;
    }
}
