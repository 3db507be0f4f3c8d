using Heaven.Providers;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Infrastructure;

/// <summary>Runs one provider on a test's clock, the rest of Heaven on the real one.</summary>
public static class ProviderClock
{
    /// <summary>Replaces Heaven's <typeparamref name="TProvider"/> with one whose <see cref="TimeProvider"/> is <paramref name="clock"/>.</summary>
    public static void RunOn<TProvider>(IServiceCollection services, TimeProvider clock)
        where TProvider : IDeployProvider
    {
        services.Remove(services.Single(d => d.ServiceType == typeof(IDeployProvider) && d.ImplementationType == typeof(TProvider)));
        services.AddSingleton<IDeployProvider>(provider => ActivatorUtilities.CreateInstance<TProvider>(provider, clock));
    }
}
