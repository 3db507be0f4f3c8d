using Heaven.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Query;

namespace Heaven.WorkItems;

/// <summary>
/// The claim-and-record protocol every outbox sender uses, so several nodes can share one database.
/// A claim is a lease: NotBefore moves past the work's duration and Attempts grows by one, in one
/// conditional UPDATE, so exactly one node wins an item; Attempts then doubles as the fencing token
/// for the outcome, which only the current lease holder may write.
/// </summary>
public static class WorkItemLease
{
    /// <summary>Claims the item if it is still pending, due, and unclaimed since it was read (<paramref name="attempts"/>).</summary>
    public static async Task<bool> TryClaimAsync(IHeavenDatabase database, long id, int attempts, TimeSpan lease, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var leaseUntil = now + lease;
        await using var db = await database.OpenAsync(cancellationToken);
        var claimed = await db.WorkItems
            .Where(w => w.Id == id && w.State == WorkItemState.Pending && w.NotBefore <= now && w.Attempts == attempts)
            .ExecuteUpdateAsync(set => set
                .SetProperty(w => w.NotBefore, leaseUntil)
                .SetProperty(w => w.Attempts, attempts + 1), cancellationToken);
        return claimed == 1;
    }

    /// <summary>
    /// Records an outcome unless the lease was lost meanwhile (another node claimed the item after it
    /// expired, which raised Attempts): then that node's outcome is the one that counts. Returns false then.
    /// </summary>
    /// <remarks>
    /// Not tied to a stopping token: the remote side has already answered, and forgetting that would
    /// send the same thing again after a restart.
    /// </remarks>
    public static async Task<bool> WriteAsync(IHeavenDatabase database, long id, int attempt, Action<UpdateSettersBuilder<WorkItem>> setters)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var db = await database.OpenAsync(timeout.Token);
        var written = await db.WorkItems
            .Where(w => w.Id == id && w.State == WorkItemState.Pending && w.Attempts == attempt)
            .ExecuteUpdateAsync(setters, timeout.Token);
        return written == 1;
    }

    /// <summary>Errors are kept for people to read, not whole response bodies.</summary>
    public static string Clamp(string error, int max = 2000) => error.Length <= max ? error : error[..(max - 1)] + "…";
}
