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
internal static partial class WorkItemLease
{
    /// <summary>Claims the item if it is still pending, due, and unclaimed since it was read (<paramref name="attempts"/>).</summary>
    public static async Task<bool> TryClaimAsync(IHeavenDatabase database, long id, int attempts, TimeSpan lease, string owner, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var leaseUntil = now + lease;
        await using var db = await database.OpenAsync(cancellationToken);
        var claimed = await db.WorkItems
            .Where(w => w.Id == id && w.State == WorkItemState.Pending && w.NotBefore <= now && w.Attempts == attempts)
            .ExecuteUpdateAsync(set => set
                .SetProperty(w => w.NotBefore, leaseUntil)
                .SetProperty(w => w.LeaseOwner, owner)
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

    /// <summary>
    /// Hands back, due at once, the items whose lease an earlier run of this node holds (it was killed
    /// mid-attempt): without this they would wait for their lease to run out. Leases of this run
    /// (<paramref name="currentOwner"/>) and of other nodes are left alone. Returns how many.
    /// </summary>
    public static async Task<int> ReleaseLeftoverLeasesAsync(IHeavenDatabase database, string nodeId, string currentOwner, TimeProvider time, ILogger logger, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var prefix = nodeId + "/";
        await using var db = await database.OpenAsync(cancellationToken);
        var released = await db.WorkItems
            .Where(w => w.State == WorkItemState.Pending && w.LeaseOwner != null && w.LeaseOwner.StartsWith(prefix) && w.LeaseOwner != currentOwner)
            .ExecuteUpdateAsync(set => set
                .SetProperty(w => w.NotBefore, now)
                .SetProperty(w => w.LeaseOwner, (string?)null), cancellationToken);
        if (released > 0)
        {
            Log.Released(logger, released);
        }

        return released;
    }

    /// <summary>The claimed item is finished (Done or Failed, with why); false when the lease was lost meanwhile.</summary>
    public static Task<bool> FinishAsync(IHeavenDatabase database, long id, int attempt, WorkItemState state, string? error, TimeProvider time)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var clamped = error is null ? null : Clamp(error);
        return WriteAsync(database, id, attempt, set => set
            .SetProperty(w => w.State, state)
            .SetProperty(w => w.CompletedAt, now)
            .SetProperty(w => w.LeaseOwner, (string?)null)
            .SetProperty(w => w.LastError, clamped));
    }

    /// <summary>Hands the claimed item back at once (shutting down mid-attempt), rather than leaving it leased.</summary>
    public static Task<bool> ReleaseAsync(IHeavenDatabase database, long id, int attempt, TimeProvider time)
    {
        var now = time.GetUtcNow().UtcDateTime;
        return WriteAsync(database, id, attempt, set => set.SetProperty(w => w.NotBefore, now).SetProperty(w => w.LeaseOwner, (string?)null));
    }

    /// <summary>
    /// After a failed attempt: the item is tried again after <paramref name="delay"/>, or, once it is
    /// older than <paramref name="giveUpAfter"/>, it fails for good with the last error.
    /// </summary>
    public static async Task<RetryOutcome> RetryOrGiveUpAsync(
        IHeavenDatabase database, long id, int attempt, DateTime createdAt, TimeSpan giveUpAfter, TimeSpan delay, string error, TimeProvider time)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var age = now - createdAt;
        if (age >= giveUpAfter)
        {
            var recorded = await FinishAsync(database, id, attempt, WorkItemState.Failed, $"Gave up after {attempt} attempts over {age:d\\.hh\\:mm\\:ss}: {error}", time);
            return new RetryOutcome(GaveUp: true, delay, recorded);
        }

        var clamped = Clamp(error);
        // Waiting for a retry is not a lease: nobody owns the item until it is claimed again.
        var written = await WriteAsync(database, id, attempt, set => set
            .SetProperty(w => w.NotBefore, now + delay)
            .SetProperty(w => w.LeaseOwner, (string?)null)
            .SetProperty(w => w.LastError, clamped));
        return new RetryOutcome(GaveUp: false, delay, written);
    }

    /// <summary>Errors are kept for people to read, not whole response bodies.</summary>
    public static string Clamp(string error, int max = 2000) => error.Length <= max ? error : error[..(max - 1)] + "…";

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Handed back {Count} outbox items a killed earlier run of this node had leased; they are sent now")]
        public static partial void Released(ILogger logger, int count);
    }
}

/// <summary>What <see cref="WorkItemLease.RetryOrGiveUpAsync"/> did: gave up, or retries after <see cref="Delay"/>; <see cref="Recorded"/> false when the lease was lost.</summary>
internal sealed record RetryOutcome(bool GaveUp, TimeSpan Delay, bool Recorded);
