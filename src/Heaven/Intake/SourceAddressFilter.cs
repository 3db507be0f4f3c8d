using System.Net;
using Microsoft.Extensions.Options;

namespace Heaven.Intake;

/// <summary>
/// The optional check that a webhook comes from one of the <c>hooks</c> ranges GitHub publishes at
/// <c>/meta</c> (<c>Webhooks:VerifySourceAddress</c>). Off by default: the signature is the control.
/// </summary>
public sealed class SourceAddressFilter(IOptions<WebhookOptions> options)
{
    public ValueTask<bool> AllowsAsync(IPAddress? address, CancellationToken cancellationToken)
    {
        if (!options.Value.VerifySourceAddress)
        {
            return ValueTask.FromResult(true);
        }

        throw new NotImplementedException();
    }
}
