using System.Net;
using Microsoft.Extensions.Options;

namespace Heaven.Intake;

/// <summary>What the source-address check says about a sender.</summary>
internal enum SourceAddressCheck
{
    /// <summary>The check is off, or the sender is inside GitHub's hook ranges.</summary>
    Allowed,

    /// <summary>The sender is outside GitHub's hook ranges (or has no address to check).</summary>
    Denied,

    /// <summary>GitHub's ranges have never been obtained, so nobody can be vouched for: fail closed.</summary>
    Unknown,
}

/// <summary>
/// The optional check that a webhook comes from one of the <c>hooks</c> ranges GitHub publishes at
/// <c>/meta</c> (<c>Webhooks:VerifySourceAddress</c>). Off by default: the signature is the control.
/// The address checked is the connection's peer, or what <c>X-Forwarded-For</c> says when that peer is
/// one of <c>Webhooks:TrustedProxies</c> (see <see cref="ForwardedHeadersSetup"/>).
/// </summary>
internal sealed class SourceAddressFilter(IOptions<WebhookOptions> options, GitHubMetaRanges ranges)
{
    public async ValueTask<SourceAddressCheck> CheckAsync(IPAddress? address, CancellationToken cancellationToken)
    {
        if (!options.Value.VerifySourceAddress)
        {
            return SourceAddressCheck.Allowed;
        }

        // No peer address (an in-memory server) leaves nothing that could vouch for the sender.
        if (address is null)
        {
            return SourceAddressCheck.Denied;
        }

        return await ranges.GetAsync(cancellationToken) switch
        {
            null => SourceAddressCheck.Unknown,
            var known when known.Contains(address) => SourceAddressCheck.Allowed,
            _ => SourceAddressCheck.Denied,
        };
    }
}
