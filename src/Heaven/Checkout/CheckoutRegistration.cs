using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Heaven.Checkout;

internal static class CheckoutRegistration
{
    /// <summary>The git checkout. Needs <see cref="Configuration.DataDirectory"/>, the Git, Checkout and GitHub options, and logging.</summary>
    public static IServiceCollection AddCheckout(this IServiceCollection services)
    {
        // One instance: its per-repository locks only work if every deployment of this process shares them.
        services.TryAddSingleton<GitCheckout>();
        services.TryAddSingleton<ICheckout>(sp => sp.GetRequiredService<GitCheckout>());
        return services;
    }
}
