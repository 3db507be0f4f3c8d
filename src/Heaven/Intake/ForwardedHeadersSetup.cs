using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace Heaven.Intake;

/// <summary>
/// Which <c>X-Forwarded-For</c> headers are believed: only those added by a proxy in
/// <c>Webhooks:TrustedProxies</c>. Anyone can send the header, so believing it from any other peer
/// would let a sender choose the address the source-address check sees.
/// </summary>
internal static class ForwardedHeadersSetup
{
    public static IServiceCollection AddTrustedProxies(this IServiceCollection services)
    {
        services.AddOptions<ForwardedHeadersOptions>()
            .Configure<IOptions<WebhookOptions>>((forwarded, webhooks) => Apply(forwarded, webhooks.Value.TrustedProxies));
        return services;
    }

    /// <summary>Reads <c>X-Forwarded-For</c> from trusted proxies; does nothing when none are configured.</summary>
    public static IApplicationBuilder UseTrustedProxies(this IApplicationBuilder app) => app.UseForwardedHeaders();

    internal static void Apply(ForwardedHeadersOptions options, IReadOnlyCollection<string> trustedProxies)
    {
        // The defaults trust loopback; and with both lists empty the middleware trusts every peer.
        // So the lists start empty, and with no proxy configured no header is read at all.
        options.KnownProxies.Clear();
        options.KnownIPNetworks.Clear();
        options.ForwardedHeaders = ForwardedHeaders.None;
        foreach (var proxy in trustedProxies)
        {
            // Entries are validated at start (WebhookOptions); an unreadable one trusts nothing.
            if (IPAddress.TryParse(proxy, out var address))
            {
                options.KnownProxies.Add(address);
            }
            else if (System.Net.IPNetwork.TryParse(proxy, out var network))
            {
                options.KnownIPNetworks.Add(network);
            }
        }

        if (options.KnownProxies.Count + options.KnownIPNetworks.Count == 0)
        {
            return;
        }

        options.ForwardedHeaders = ForwardedHeaders.XForwardedFor;
        // No count limit: the middleware walks X-Forwarded-For from the right and stops at the first
        // hop that is not a trusted proxy, so a chain of trusted proxies works and whatever the sender
        // wrote further left is never reached.
        options.ForwardLimit = null;
    }
}
