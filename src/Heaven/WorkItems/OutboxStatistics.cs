using Heaven.Storage;
using Heaven.Telemetry;
using Microsoft.EntityFrameworkCore;

namespace Heaven.WorkItems;

/// <summary>
/// The outbox's pending items per kind, for the metrics: one grouped query on the (state, kind) index,
/// repeated at most every <see cref="MaxAge"/> however often metrics are collected.
/// </summary>
internal sealed partial class OutboxStatistics(IHeavenDatabase database, TimeProvider time, ILogger<OutboxStatistics> logger) : IOutboxStatistics
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(5);

    /// <summary>How long a collection waits for the database before it reports the previous numbers.</summary>
    private static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(2);

    private readonly Lock gate = new();
    private IReadOnlyList<OutboxKindStatistics> last = [];
    private DateTimeOffset readAt = DateTimeOffset.MinValue;
    private Task<IReadOnlyList<OutboxKindStatistics>>? reading;

    public IReadOnlyList<OutboxKindStatistics> Read()
    {
        Task<IReadOnlyList<OutboxKindStatistics>> current;
        lock (gate)
        {
            if (time.GetUtcNow() - readAt < MaxAge)
            {
                return last;
            }

            current = reading ??= Task.Run(ReadAsync);
        }

        // Collections are synchronous; a slow database costs one of them stale numbers, not a hang.
        return current.Wait(QueryTimeout) ? current.Result : last;
    }

    private async Task<IReadOnlyList<OutboxKindStatistics>> ReadAsync()
    {
        IReadOnlyList<OutboxKindStatistics> result = last;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await using var db = await database.OpenAsync(timeout.Token);
            var rows = await db.WorkItems
                .Where(w => w.State == WorkItemState.Pending)
                .GroupBy(w => w.Kind)
                .Select(g => new { Kind = g.Key, Count = g.LongCount(), Oldest = g.Min(w => w.CreatedAt) })
                .ToListAsync(timeout.Token);
            var now = time.GetUtcNow().UtcDateTime;
            result = rows
                .Select(r => new OutboxKindStatistics(r.Kind, r.Count, now - DateTime.SpecifyKind(r.Oldest, DateTimeKind.Utc) is var age && age > TimeSpan.Zero ? age : TimeSpan.Zero))
                .OrderBy(r => r.Kind, StringComparer.Ordinal)
                .ToList();
        }
        catch (Exception e)
        {
            Log.ReadFailed(logger, e.GetType().Name, e.Message);
        }

        lock (gate)
        {
            last = result;
            readAt = time.GetUtcNow();
            reading = null;
        }

        return result;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the outbox for the metrics ({Kind}: {Message})")]
        public static partial void ReadFailed(ILogger logger, string kind, string message);
    }
}
