using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Heaven.GitHub;

internal static class GitHubRegistration
{
    /// <summary>
    /// The GitHub adapter. Expects <see cref="GitHubOptions"/> to be registered (the host does that
    /// for all settings).
    /// </summary>
    public static IServiceCollection AddGitHub(this IServiceCollection services)
    {
        // TryAdd: an adapter registered earlier (another authentication, a test double) wins.
        services.TryAddSingleton<OctokitGitHub>();
        services.TryAddSingleton<IGitHub>(sp => sp.GetRequiredService<OctokitGitHub>());
        services.TryAddSingleton<IGitHubRepositoryApi>(sp => sp.GetRequiredService<OctokitGitHub>());
        return services;
    }
}
