using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Heaven.Model;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Output;

/// <summary>Where a deployment stands, as a viewer of its log is told.</summary>
public sealed record DeploymentLogState(DeploymentState State, string? Description)
{
    /// <summary>Finished (or never run): no more output will come.</summary>
    public bool IsFinished => State is not (DeploymentState.Queued or DeploymentState.Running);
}

/// <summary>
/// Follows a deployment's log from a line on until the deployment is finished, on any node: the stored
/// lines first, then, when this node writes the log, its live feed. When another node writes it (several
/// nodes on PostgreSQL), this node's viewers of it share one reader of the stored log
/// (<see cref="SharedLogReaders"/>), which reads each chunk once as soon as the writing node announces
/// it (<see cref="ClusterSignals"/>) and every <see cref="PollInterval"/> in case an announcement was
/// lost, and follow its feed as they follow a local one. With one node (SQLite) a viewer of a
/// deployment not written here reads the database itself. Every line comes once, in order; lines the
/// stored log elided are skipped.
/// </summary>
public sealed class DeploymentLogFollower(IHeavenDatabase database, DeploymentLogReader reader, LiveLogs liveLogs, TimeProvider? timeProvider = null, ClusterSignals? cluster = null, ILogger<DeploymentLogFollower>? logger = null)
{
    /// <summary>How often the database is asked for new lines of a log written on another node.</summary>
    public static readonly TimeSpan PollInterval = DeploymentLog.FlushInterval;

    /// <summary>Lines that left the live ring are stored within the flush interval: ask again after a part of it.</summary>
    private static readonly TimeSpan StoreWait = TimeSpan.FromMilliseconds(50);

    private readonly TimeProvider time = timeProvider ?? TimeProvider.System;

    private PaceClock? clock;

    /// <summary>The ticks paced viewers wait for, one timer for all of them.</summary>
    private PaceClock paceClock => LazyInitializer.EnsureInitialized(ref clock, () => new PaceClock(time));

    /// <summary>How long the database is left unasked when no announcement comes; tests stretch it to prove the announcements.</summary>
    internal TimeSpan DatabasePollInterval { get; set; } = PollInterval;

    private SharedLogReaders? sharedReaders;

    /// <summary>
    /// Whether viewers of a log written elsewhere share one reader of it: when nodes share the database.
    /// With one node (announcements stay in the process) a viewer reads the database itself.
    /// </summary>
    internal bool SharesReads { get; init; } = cluster is { SpansNodes: true };

    /// <summary>The readers this node's viewers share, one per deployment another node writes; null when <see cref="SharesReads"/> is off.</summary>
    internal SharedLogReaders? SharedReaders => SharesReads && cluster is not null
        ? LazyInitializer.EnsureInitialized(ref sharedReaders, () => new SharedLogReaders(
            reader,
            StateAsync,
            () => DatabasePollInterval,
            cluster,
            time,
            (ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance))
        : null;

    /// <summary>How many finished deployments' states are kept in memory (a finished state never changes).</summary>
    private const int FinishedStatesKept = 1024;

    private readonly ConcurrentDictionary<long, DeploymentLogState> finishedStates = new();
    private readonly ConcurrentDictionary<long, Lazy<Task<DeploymentLogState?>>> stateReads = new();

    /// <summary>
    /// The deployment's state and status text; null when there is no such deployment. Viewers of one
    /// deployment ask together (hundreds of them when it ends): callers at the same moment share one
    /// read, and a finished state, which never changes, is kept and not read again.
    /// </summary>
    public async Task<DeploymentLogState?> StateAsync(long deploymentId, CancellationToken cancellationToken)
    {
        if (finishedStates.TryGetValue(deploymentId, out var finished))
        {
            return finished;
        }

        var read = stateReads.GetOrAdd(deploymentId, id => new Lazy<Task<DeploymentLogState?>>(() => ReadStateForAllAsync(id)));
        return await read.Value.WaitAsync(cancellationToken);
    }

    /// <summary>One read of a state for whoever asks meanwhile; no one caller's cancellation ends it for the others.</summary>
    private async Task<DeploymentLogState?> ReadStateForAllAsync(long deploymentId)
    {
        try
        {
            var state = await ReadStateAsync(deploymentId, CancellationToken.None);
            if (state is { IsFinished: true })
            {
                if (finishedStates.Count >= FinishedStatesKept)
                {
                    finishedStates.Clear();
                }

                finishedStates[deploymentId] = state;
            }

            return state;
        }
        finally
        {
            stateReads.TryRemove(deploymentId, out _);
        }
    }

    private async Task<DeploymentLogState?> ReadStateAsync(long deploymentId, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        return await db.Deployments.AsNoTracking()
            .Where(d => d.Id == deploymentId)
            .Select(d => new DeploymentLogState(d.State, d.StatusDescription))
            .SingleOrDefaultAsync(cancellationToken);
    }

    /// <summary>
    /// The lines numbered <paramref name="fromLine"/> and later, as they come, ending once the deployment
    /// is finished and every stored line was given (at once for a finished deployment). A line printed
    /// on this node arrives as it is printed; on another node, within about <see cref="PollInterval"/>
    /// of being stored. Every line comes: nothing is skipped for pace.
    /// </summary>
    public async IAsyncEnumerable<LogLine> FollowAsync(long deploymentId, long fromLine = 0, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var item in FollowAsync(deploymentId, fromLine, pace: null, cancellationToken))
        {
            yield return item.Line;
        }
    }

    /// <summary>
    /// As <see cref="FollowAsync(long, long, CancellationToken)"/>, for a viewer that is sent what it is
    /// given: the lines there are when it starts come in full, and so do later ones while they come no
    /// faster than <paramref name="pace"/> allows; of a flood beyond it only the newest lines come, after
    /// one <see cref="LogFollowItem.Gap"/> naming exactly the lines left out, so a viewer behind a flood
    /// costs the deploy nothing and still shows what it prints now. Without a pace, nothing is left out.
    /// </summary>
    public async IAsyncEnumerable<LogFollowItem> FollowAsync(long deploymentId, long fromLine, LivePace? pace, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var next = Math.Max(0, fromLine);
        var liveDone = false;
        // Lines below this were there when the viewer came: they come in full. Later ones are live, and paced.
        long? historyEnd = null;
        var budget = pace is null ? null : new PaceBudget(pace, time);
        var ticked = false;
        // Before the first read, so lines stored between that read and the wait still wake it.
        var announced = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
        void Heard() => announced.Writer.TryWrite(true);
        using var linesStored = cluster?.SubscribeToDeployment(ClusterTopics.LogWritten, deploymentId, Heard);
        using var finished = cluster?.SubscribeToDeployment(ClusterTopics.DeploymentFinished, deploymentId, Heard);
        var shared = SharedReaders;
        SharedLogReaders.Viewer? sharing = null;
        try
        {
            while (true)
            {
                var feed = sharing?.Feed ?? (liveDone ? null : liveLogs.Find(deploymentId));
                if (feed is null)
                {
                    // Written on another node, or not (any more) on this one: the database alone. The state
                    // is read first: output is stored before a deployment is marked finished, so a read after
                    // seeing it finished finds every line.
                    var state = await StateAsync(deploymentId, cancellationToken);
                    // After this node's live feed completed, every line there will be was in it (and is
                    // stored): only the end is awaited, without reading the log again per viewer.
                    if (!liveDone)
                    {
                        await foreach (var line in reader.ReadAsync(deploymentId, next, cancellationToken))
                        {
                            yield return LogFollowItem.Of(line);
                            next = line.Number + 1;
                        }
                    }

                    // A viewer that came before the deploy started (or on another node's deploy) has seen all
                    // there was: what its live feed brings later is paced.
                    historyEnd ??= next;
                    if (state is null || state.IsFinished)
                    {
                        yield break;
                    }

                    if (shared is not null && !liveDone && liveLogs.Find(deploymentId) is null)
                    {
                        // Written on another node (or queued): from here on this viewer follows the reader
                        // this node's viewers of it share, which reads each stored chunk once for all of
                        // them, to the end (also if the deployment starts here meanwhile).
                        sharing = await shared.AttachAsync(deploymentId, next, cancellationToken);
                        continue;
                    }

                    // A deployment queued here may start here meanwhile: its live feed is looked for more often
                    // than the database is asked. Stored lines or the end announced by another node end the wait.
                    var poll = DatabasePollInterval;
                    // No feed to look for once this node's completed: the end's announcement, or the poll.
                    var step = liveDone ? poll : StoreWait;
                    for (var waited = TimeSpan.Zero; waited < poll && (liveDone || liveLogs.Find(deploymentId) is null); waited += step)
                    {
                        if (await HeardWithinAsync(announced.Reader, step, cancellationToken))
                        {
                            break;
                        }
                    }

                    continue;
                }

                historyEnd ??= feed.Published;
                while (true)
                {
                    var published = feed.Published;
                    if (budget is not null && next >= historyEnd && next < published)
                    {
                        // Live lines, paced: when the budget is spent, wait for it (a line every few
                        // milliseconds never spends it) on the tick all paced viewers share, then send
                        // the newest lines it covers.
                        if (ticked)
                        {
                            // Woken by the tick nearest to when the budget sufficed, maybe a little before it:
                            // what is short now is made up before the next batch.
                            ticked = false;
                            budget.Refill();
                        }
                        else if (budget.WaitBeforeSending() is var wait && wait > TimeSpan.Zero)
                        {
                            await paceClock.WaitAsync(wait, cancellationToken);
                            ticked = true;
                            continue;
                        }

                        var from = NewestAffordable(feed, next, published, budget.Available);
                        if (from > next)
                        {
                            yield return LogFollowItem.Skipped(next, from - 1);
                            next = from;
                        }

                        while (next < published && feed.TryRead(next, out var paced))
                        {
                            budget.Spend(Cost(paced));
                            yield return LogFollowItem.Of(paced);
                            next++;
                        }

                        // Overwritten meanwhile (the writer went a ring's length on): the next round skips to it.
                        continue;
                    }

                    while ((budget is null || next < historyEnd) && feed.TryRead(next, out var line))
                    {
                        yield return LogFollowItem.Of(line);
                        next++;
                    }

                    var complete = feed.IsComplete;
                    if (next < feed.Published && (budget is null || next < historyEnd))
                    {
                        // Not in the ring: this viewer starts before it, or fell behind it. The database has the
                        // line, or will within the flush interval; or it was elided there, and the next stored
                        // line is the one to go on with.
                        var progressed = false;
                        await foreach (var stored in reader.ReadAsync(deploymentId, next, cancellationToken))
                        {
                            yield return LogFollowItem.Of(stored);
                            next = stored.Number + 1;
                            progressed = true;
                            if (feed.TryRead(next, out _) || (budget is not null && next >= historyEnd))
                            {
                                break;
                            }
                        }

                        if (!progressed)
                        {
                            if (complete)
                            {
                                // Stored everything there is: what is missing was elided or could not be stored.
                                next = feed.Published;
                            }
                            else
                            {
                                await Task.Delay(StoreWait, time, cancellationToken);
                            }
                        }

                        continue;
                    }

                    if (next < feed.Published)
                    {
                        // Live lines for the paced part above.
                        continue;
                    }

                    if (complete)
                    {
                        if (sharing is not null)
                        {
                            // A shared reader completes once the deployment is finished and every stored line is in.
                            yield break;
                        }

                        // Every line is stored; the deployment is marked finished moments later.
                        liveDone = true;
                        break;
                    }

                    await feed.WaitForLineAsync(next, cancellationToken);
                }
            }
        }
        finally
        {
            sharing?.Dispose();
        }
    }

    /// <summary>Whether an announcement came within <paramref name="wait"/> (it is taken); without announcements (one node), just the wait.</summary>
    private async Task<bool> HeardWithinAsync(ChannelReader<bool> heard, TimeSpan wait, CancellationToken cancellationToken)
    {
        if (cluster is null)
        {
            await Task.Delay(wait, time, cancellationToken);
            return false;
        }

        return await HeardWithinAsync(heard, wait, time, cancellationToken);
    }

    /// <summary>Whether an announcement came on <paramref name="heard"/> within <paramref name="wait"/> (it is taken); the shared readers wait the same way.</summary>
    internal static async Task<bool> HeardWithinAsync(ChannelReader<bool> heard, TimeSpan wait, TimeProvider time, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(wait, time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        try
        {
            return await heard.WaitToReadAsync(either.Token) && heard.TryRead(out _);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>What a line costs a viewer's budget: its text and about what an event around it takes.</summary>
    private static long Cost(LogLine line) => line.Text.Length + 48;

    /// <summary>The first of the newest lines before <paramref name="published"/> that <paramref name="available"/> covers (at least the newest one).</summary>
    private static long NewestAffordable(LiveLogFeed feed, long next, long published, long available)
    {
        var from = published;
        var cost = 0L;
        while (from > next && feed.TryRead(from - 1, out var line))
        {
            cost += Cost(line);
            if (cost > available && from < published)
            {
                break;
            }

            from--;
        }

        return from;
    }

    /// <summary>A token bucket of characters: full at <see cref="LivePace.BurstChars"/>, refilled at <see cref="LivePace.CharsPerSecond"/>.</summary>
    private sealed class PaceBudget(LivePace pace, TimeProvider time)
    {
        private double available = pace.BurstChars;
        private long stamp = time.GetTimestamp();

        public long Available => (long)available;

        /// <summary>Zero when there is enough to send a useful batch (a round's worth); else how long until there is.</summary>
        public TimeSpan WaitBeforeSending()
        {
            Refill();
            var least = Math.Min(pace.BurstChars, pace.CharsPerSecond * PaceClock.Period.TotalSeconds);
            return available >= least ? TimeSpan.Zero : TimeSpan.FromSeconds((least - available) / pace.CharsPerSecond);
        }

        /// <summary>Adds what the time since the last refill earned, up to the burst.</summary>
        public void Refill()
        {
            var now = time.GetTimestamp();
            available = Math.Min(pace.BurstChars, available + (time.GetElapsedTime(stamp, now).TotalSeconds * pace.CharsPerSecond));
            stamp = now;
        }

        public void Spend(long chars) => available -= chars;
    }
}

/// <summary>How much live output a viewer is sent: bursts up to <see cref="BurstChars"/>, then <see cref="CharsPerSecond"/>.</summary>
public sealed record LivePace(long BurstChars, long CharsPerSecond)
{
    /// <summary>
    /// A browser's or a script's share: far more than anyone reads (about 600 lines at once, 160 a second
    /// after that), and little enough that hundreds of viewers of a flood cost its deploy nothing.
    /// </summary>
    public static readonly LivePace Viewer = new(64 * 1024, 16 * 1024);
}

/// <summary>One thing a paced viewer is sent: a line, or the lines numbered <see cref="First"/> to <see cref="Last"/> left out.</summary>
public readonly record struct LogFollowItem(LogLine Line, long First, long Last)
{
    /// <summary>Lines were left out (they are in the stored log): <see cref="First"/> to <see cref="Last"/>, both included.</summary>
    public bool Gap => Last >= First;

    public long SkippedLines => Gap ? Last - First + 1 : 0;

    public static LogFollowItem Of(LogLine line) => new(line, 0, -1);

    public static LogFollowItem Skipped(long first, long last) => new(default, first, last);
}
