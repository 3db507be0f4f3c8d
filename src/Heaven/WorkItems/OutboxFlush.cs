using Heaven.Configuration;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;

namespace Heaven.WorkItems;

/// <summary>
/// Before a graceful stop: gives the outbox senders, which are still running, the time to send what is
/// due now (the statuses of deploys that just ended above all), within a limit. Items waiting for a
/// retry are not waited for: they are sent after the next start, or by another node.
/// </summary>
public sealed class OutboxFlush(IHeavenDatabase database, NodeIdentity node, TimeProvider time)
{
    private static readonly TimeSpan LookEvery = TimeSpan.FromMilliseconds(200);

    /// <summary>Waits until nothing is due or being sent by this node, or <paramref name="limit"/> passed; true when the outbox owes nothing due.</summary>
    public async Task<bool> WaitUntilSentAsync(TimeSpan limit, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        while (true)
        {
            if (await OwedAsync(cancellationToken) == 0)
            {
                return true;
            }

            if (time.GetElapsedTime(started) >= limit)
            {
                return false;
            }

            await Task.Delay(LookEvery, time, cancellationToken);
        }
    }

    /// <summary>How many items are due now, or leased by this run of the node (being sent).</summary>
    public async Task<int> OwedAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var owner = node.LeaseOwner;
        await using var db = await database.OpenAsync(cancellationToken);
        return await db.WorkItems.CountAsync(w => w.State == WorkItemState.Pending && (w.NotBefore <= now || w.LeaseOwner == owner), cancellationToken);
    }
}
