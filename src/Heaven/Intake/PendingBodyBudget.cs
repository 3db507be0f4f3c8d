using Microsoft.Extensions.Options;

namespace Heaven.Intake;

/// <summary>
/// The bytes buffered at once, across all requests, for webhook bodies whose signature is not checked
/// yet (<c>Webhooks:MaxPendingBodyBytes</c>). Anyone who can reach <c>/events</c> can send a body, so
/// what those bodies may hold together is capped: a sender without the secret can make Heaven hold
/// only what it has actually sent, and all such senders together no more than the cap.
/// </summary>
internal sealed class PendingBodyBudget(IOptions<WebhookOptions> options)
{
    private long pending;

    public long Capacity => options.Value.MaxPendingBodyBytes;

    /// <summary>The bytes reserved now.</summary>
    public long Pending => Interlocked.Read(ref pending);

    /// <summary>Reserves <paramref name="bytes"/>, or nothing when that would go over the cap.</summary>
    public bool TryReserve(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        var capacity = Capacity;
        var current = Interlocked.Read(ref pending);
        while (true)
        {
            if (current + bytes > capacity)
            {
                return false;
            }

            var seen = Interlocked.CompareExchange(ref pending, current + bytes, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }
    }

    public void Release(long bytes) => Interlocked.Add(ref pending, -bytes);
}
