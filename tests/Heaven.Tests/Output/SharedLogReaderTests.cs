using Heaven.Masking;
using Heaven.Model;
using Heaven.Output;
using Heaven.Storage;
using Heaven.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Heaven.Tests.Output;

/// <summary>
/// Viewers on one node of a log another node writes share one reader of the stored log: each stored
/// chunk is read once for all of them, and still every viewer gets every line once, in order, to the end.
/// The other node is played by a <see cref="DeploymentLog"/> that is not this node's live log, and its
/// announcements by this node's <see cref="ClusterSignals"/>.
/// </summary>
public sealed class SharedLogReaderTests : IAsyncLifetime
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(60);

    /// <summary>So long that only announcements wake a reader.</summary>
    private static readonly TimeSpan NoPoll = TimeSpan.FromHours(1);

    private HeavenTestHost host = null!;

    private IHeavenDatabase Database => host.Services.GetRequiredService<IHeavenDatabase>();

    private ClusterSignals Signals => host.Services.GetRequiredService<ClusterSignals>();

    public async Task InitializeAsync() => host = await HeavenTestHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task ManyViewersOfAnotherNodesDeploy_EachGetEveryLineOnceInOrder_WhileEachStoredChunkIsReadOnceForAll()
    {
        const int viewers = 40;
        const int batches = 10;
        var id = await AddRunningDeploymentAsync();
        var counted = new CountingDatabase(Database);
        var follower = SharingFollower(counted, NoPoll);
        await using var log = OtherNodesLog(id);
        await WriteAsync(log, id, 0, 5);

        using var timeout = new CancellationTokenSource(Budget);
        var (seen, following) = FollowAll(follower, id, viewers, timeout.Token);
        await Poll.UntilAsync(() => follower.SharedReaders!.ViewersOf(id) == viewers, "every viewer follows the shared reader");
        var readsBefore = counted.Opens;

        var total = 5;
        for (var batch = 0; batch < batches; batch++)
        {
            await WriteAsync(log, id, total, 3);
            total += 3;
            var expected = total;
            await Poll.UntilAsync(() => seen.All(lines => Count(lines) == expected), $"every viewer has the {expected} lines");
        }

        await log.WriteLineAsync(OutputStream.Heaven, "Succeeded: done", default);
        await log.CompleteAsync(default);
        await FinishAsync(id);
        Signals.Announce(ClusterTopics.DeploymentFinished, ClusterTopics.Subject(id));
        await Poll.SignalAsync(Task.WhenAll(following), "every viewer ends with the deployment");

        var reads = counted.Opens - readsBefore;
        foreach (var lines in seen)
        {
            lines.Select(l => l.Number).ShouldBe(Enumerable.Range(0, total + 1).Select(n => (long)n));
            lines.SkipLast(1).Select(l => l.Text).ShouldBe(Enumerable.Range(0, total).Select(n => $"line {n}"));
            lines[^1].ShouldBe(new LogLine(total, OutputStream.Heaven, "Succeeded: done"));
        }

        // One reader: a round per announcement (and one to start), each reading the state and the new
        // chunk. A reader per viewer would have read the database at least viewers × batches times.
        reads.ShouldBeLessThanOrEqualTo(2 * (batches + 3));
        follower.SharedReaders!.Rounds.ShouldBeLessThanOrEqualTo(batches + 3);
        await Poll.UntilAsync(() => follower.SharedReaders.Count == 0 && follower.SharedReaders.Running == 0, "the finished deployment's reader is gone");
    }

    [Fact]
    public async Task AViewerResumingFromALine_GetsThatLineAndTheRestOnce_AlongsideOneFollowingFromTheStart()
    {
        var id = await AddRunningDeploymentAsync();
        var follower = SharingFollower(Database, NoPoll);
        await using var log = OtherNodesLog(id);
        using var timeout = new CancellationTokenSource(Budget);
        await using var first = follower.FollowAsync(id, 0, timeout.Token).GetAsyncEnumerator(timeout.Token);
        var firstSeen = new List<LogLine>();
        var firstMoved = first.MoveNextAsync();
        await Poll.UntilAsync(() => follower.SharedReaders!.ViewersOf(id) == 1, "the first viewer follows the shared reader");
        await WriteAsync(log, id, 0, 10);
        for (var i = 0; i < 10; i++)
        {
            (await (i == 0 ? firstMoved : first.MoveNextAsync())).ShouldBeTrue();
            firstSeen.Add(first.Current);
        }

        // As a browser reconnecting with Last-Event-ID 6 asks.
        var resumedSeen = new List<LogLine>();
        await using (var resumed = follower.FollowAsync(id, 7, timeout.Token).GetAsyncEnumerator(timeout.Token))
        {
            for (var i = 0; i < 3; i++)
            {
                (await resumed.MoveNextAsync()).ShouldBeTrue();
                resumedSeen.Add(resumed.Current);
            }

            // Past what was stored when it came: it waits for lines, on the reader the first viewer started.
            var waiting = resumed.MoveNextAsync();
            await Poll.UntilAsync(() => follower.SharedReaders!.ViewersOf(id) == 2, "the resumed viewer joins the same reader");
            follower.SharedReaders!.Count.ShouldBe(1);
            await WriteAsync(log, id, 10, 2);
            await log.CompleteAsync(default);
            await FinishAsync(id);
            Signals.Announce(ClusterTopics.DeploymentFinished, ClusterTopics.Subject(id));
            while (await waiting)
            {
                resumedSeen.Add(resumed.Current);
                waiting = resumed.MoveNextAsync();
            }
        }

        while (await first.MoveNextAsync())
        {
            firstSeen.Add(first.Current);
        }

        resumedSeen.Select(l => l.Text).ShouldBe(Enumerable.Range(7, 5).Select(n => $"line {n}"));
        resumedSeen.Select(l => l.Number).ShouldBe(Enumerable.Range(7, 5).Select(n => (long)n));
        firstSeen.Select(l => l.Text).ShouldBe(Enumerable.Range(0, 12).Select(n => $"line {n}"));
    }

    [Fact]
    public async Task ViewersLeavingEarly_ReleaseTheReader_AndTheLastOneStopsIt()
    {
        var id = await AddRunningDeploymentAsync();
        var follower = SharingFollower(Database, NoPoll);
        await using var log = OtherNodesLog(id);
        await WriteAsync(log, id, 0, 1);
        using var timeout = new CancellationTokenSource(Budget);
        // Each viewer leaves as a closed browser tab does: its request is cancelled while it waits for a line.
        var leave = Enumerable.Range(0, 3).Select(_ => CancellationTokenSource.CreateLinkedTokenSource(timeout.Token)).ToList();
        var following = leave.Select(left => Task.Run(async () =>
        {
            var lines = new List<LogLine>();
            try
            {
                await foreach (var line in follower.FollowAsync(id, 0, left.Token))
                {
                    lines.Add(line);
                }
            }
            catch (OperationCanceledException) when (left.IsCancellationRequested)
            {
            }

            return lines;
        })).ToList();
        await Poll.UntilAsync(() => follower.SharedReaders!.ViewersOf(id) == 3, "every viewer follows the shared reader");

        await leave[2].CancelAsync();
        (await Poll.SignalAsync(following[2], "the third viewer leaves")).ShouldBe([new LogLine(0, OutputStream.Stdout, "line 0")]);
        follower.SharedReaders!.ViewersOf(id).ShouldBe(2);
        await leave[0].CancelAsync();
        await Poll.SignalAsync(following[0], "the first viewer leaves");
        follower.SharedReaders.ViewersOf(id).ShouldBe(1);
        follower.SharedReaders.Count.ShouldBe(1);

        await leave[1].CancelAsync();
        await Poll.SignalAsync(following[1], "the last viewer leaves");
        await Poll.UntilAsync(() => follower.SharedReaders.Count == 0 && follower.SharedReaders.Running == 0, "the reader stops with its last viewer");
        foreach (var left in leave)
        {
            left.Dispose();
        }

        // A viewer coming later gets a reader of its own, and the lines stored meanwhile.
        await WriteAsync(log, id, 1, 1);
        await using var later = follower.FollowAsync(id, 0, timeout.Token).GetAsyncEnumerator(timeout.Token);
        (await later.MoveNextAsync()).ShouldBeTrue();
        (await later.MoveNextAsync()).ShouldBeTrue();
        later.Current.ShouldBe(new LogLine(1, OutputStream.Stdout, "line 1"));
        var waiting = later.MoveNextAsync();
        await Poll.UntilAsync(() => follower.SharedReaders.ViewersOf(id) == 1, "the later viewer follows a new shared reader");
        await WriteAsync(log, id, 2, 1);
        (await waiting).ShouldBeTrue();
        later.Current.ShouldBe(new LogLine(2, OutputStream.Stdout, "line 2"));
    }

    [Fact]
    public async Task TheDeploymentFinishingWithoutAnAnnouncement_EndsEveryViewer_AtTheNextPoll()
    {
        var id = await AddRunningDeploymentAsync();
        var follower = SharingFollower(Database, DeploymentLogFollower.PollInterval);
        await using var log = OtherNodesLog(id);
        using var timeout = new CancellationTokenSource(Budget);
        var following = Enumerable.Range(0, 3).Select(_ => follower.FollowAsync(id, 0, timeout.Token).ToListAsync(timeout.Token).AsTask()).ToList();
        await Poll.UntilAsync(() => follower.SharedReaders!.ViewersOf(id) == 3, "every viewer follows the shared reader");

        // Stored and finished, and nobody says so: the poll is the safety net.
        await log.WriteLineAsync(OutputStream.Stdout, "last", default);
        await log.CompleteAsync(default);
        await FinishAsync(id);

        foreach (var lines in await Poll.SignalAsync(Task.WhenAll(following), "every viewer ends"))
        {
            lines.ShouldBe([new LogLine(0, OutputStream.Stdout, "last")]);
        }

        await Poll.UntilAsync(() => follower.SharedReaders!.Count == 0 && follower.SharedReaders.Running == 0, "the reader is gone");
    }

    [Fact]
    public async Task AQueuedDeploymentThatStartsOnThisNode_StillGivesItsSharedReaderViewersEveryLineOnce()
    {
        var id = await AddRunningDeploymentAsync();
        var follower = SharingFollower(Database, DeploymentLogFollower.PollInterval);
        using var timeout = new CancellationTokenSource(Budget);
        var following = follower.FollowAsync(id, 0, timeout.Token).ToListAsync(timeout.Token).AsTask();
        await Poll.UntilAsync(() => follower.SharedReaders!.ViewersOf(id) == 1, "the viewer follows the shared reader");

        // Now it runs here: this node's live log, which the viewer already following does not switch to.
        var outputs = host.Services.GetRequiredService<DeploymentOutputs>();
        await using (var log = outputs.OpenLog(id, new SecretMasker()))
        {
            for (var i = 0; i < 300; i++)
            {
                await log.WriteLineAsync(OutputStream.Stdout, $"line {i}", default);
            }

            await log.CompleteAsync(default);
        }

        await FinishAsync(id);
        var lines = await Poll.SignalAsync(following, "the viewer ends");
        lines.Select(l => l.Text).ShouldBe(Enumerable.Range(0, 300).Select(n => $"line {n}"));
        lines.Select(l => l.Number).ShouldBe(Enumerable.Range(0, 300).Select(n => (long)n));
    }

    [Fact]
    public async Task LinesElidedBeforeTheReaderGotToThem_AreJumpedOver_AndTheViewersStillGetTheLastLinesOnceInOrder()
    {
        var id = await AddRunningDeploymentAsync();
        var follower = SharingFollower(Database, NoPoll);
        // 64 KB kept (head and tail) of about 250 KB.
        await using var log = new DeploymentLog(id, new SecretMasker(), Database, new OutputOptions { MaxLogBytes = 64 * 1024 }, TimeProvider.System, NullLogger<DeploymentLog>.Instance);
        using var timeout = new CancellationTokenSource(Budget);
        var following = Enumerable.Range(0, 2).Select(_ => follower.FollowAsync(id, 0, timeout.Token).ToListAsync(timeout.Token).AsTask()).ToList();
        // Its first round under way: it listens, so the announcement below sets off a second one.
        await Poll.UntilAsync(() => follower.SharedReaders!.ViewersOf(id) == 2 && follower.SharedReaders.Rounds >= 1, "every viewer follows the shared reader, which has started");

        // Stored in many flushes, most of it elided, before one announcement sends the reader to look.
        const int total = 6000;
        for (var i = 0; i < total; i++)
        {
            await log.WriteLineAsync(OutputStream.Stdout, $"line {i} {new string('x', 30)}", default);
            if (i % 500 == 499)
            {
                await log.FlushAsync(default);
            }
        }

        await log.CompleteAsync(default);
        Signals.Announce(ClusterTopics.LogWritten, ClusterTopics.Subject(id));
        await Poll.UntilAsync(() => follower.SharedReaders!.Rounds >= 2, "the reader has read what was stored");
        await FinishAsync(id);
        Signals.Announce(ClusterTopics.DeploymentFinished, ClusterTopics.Subject(id));

        foreach (var lines in await Poll.SignalAsync(Task.WhenAll(following), "every viewer ends"))
        {
            lines[0].Text.ShouldStartWith("line 0 ");
            lines[^1].ShouldBe(new LogLine(total - 1, OutputStream.Stdout, $"line {total - 1} {new string('x', 30)}"));
            lines.Select(l => l.Number).ShouldBeInOrder(SortDirection.Ascending);
            lines.Select(l => l.Number).Distinct().Count().ShouldBe(lines.Count);
            lines.ShouldContain(l => l.Stream == OutputStream.Heaven && l.Text.Contains("elided"));
            lines.Count.ShouldBeLessThan(total);
        }
    }

    [Fact]
    public async Task AReaderStartsWhereItsFirstViewersReadEnded_SoLinesStoredMeanwhileAreInItsFeed_ButNoLaterThanTheStoredEnd()
    {
        var id = await AddRunningDeploymentAsync();
        var follower = SharingFollower(Database, NoPoll);
        await using var log = OtherNodesLog(id);
        // Stored after the viewer read lines 0 and 1 itself, before it started the reader.
        await WriteAsync(log, id, 0, 4);
        using var timeout = new CancellationTokenSource(Budget);

        using (var viewer = await follower.SharedReaders!.AttachAsync(id, 2, timeout.Token))
        {
            await Poll.UntilAsync(() => viewer.Feed.Published == 4, "the reader has read what was stored");
            viewer.Feed.TryRead(2, out var line).ShouldBeTrue();
            line.ShouldBe(new LogLine(2, OutputStream.Stdout, "line 2"));
            viewer.Feed.TryRead(1, out _).ShouldBeFalse();
        }

        await Poll.UntilAsync(() => follower.SharedReaders.Running == 0, "the reader stops with its viewer");

        // A viewer resuming after a line it saw live elsewhere, not stored yet: the reader starts at the stored end.
        using (var ahead = await follower.SharedReaders.AttachAsync(id, 6, timeout.Token))
        {
            ahead.Feed.Published.ShouldBe(4);
            await WriteAsync(log, id, 4, 1);
            await Poll.UntilAsync(() => ahead.Feed.Published == 5, "the reader has the line stored next");
            ahead.Feed.TryRead(4, out var stored).ShouldBeTrue();
            stored.Text.ShouldBe("line 4");
        }
    }

    [Fact]
    public void ALiveFeed_StartsWhereItIsTold_AndJumpsOverNumbers_WhichItThenNeverHolds()
    {
        var feed = new LiveLogFeed(1, firstLine: 10);
        feed.Published.ShouldBe(10);
        feed.Publish(10, OutputStream.Stdout, "ten");
        feed.Publish(LiveLogFeed.Capacity * 3, OutputStream.Heaven, "far on");
        feed.Publish(10, OutputStream.Stdout, "again");

        feed.Published.ShouldBe(LiveLogFeed.Capacity * 3 + 1);
        feed.TryRead(10, out var ten).ShouldBeFalse();
        feed.TryRead(11, out _).ShouldBeFalse();
        feed.TryRead(LiveLogFeed.Capacity * 3, out var far).ShouldBeTrue();
        far.ShouldBe(new LogLine(LiveLogFeed.Capacity * 3, OutputStream.Heaven, "far on"));
        ten.ShouldBe(default);

        var near = new LiveLogFeed(2);
        near.Publish(0, OutputStream.Stdout, "zero");
        near.Publish(5, OutputStream.Stdout, "five");
        near.TryRead(0, out _).ShouldBeTrue();
        near.TryRead(3, out _).ShouldBeFalse();
        near.TryRead(5, out var five).ShouldBeTrue();
        five.Text.ShouldBe("five");
    }

    [Fact]
    public async Task ManyViewersOfADeployRunningHere_EndWithItWithoutEachReadingTheLogAgain()
    {
        const int viewers = 40;
        var id = await AddRunningDeploymentAsync();
        var counted = new CountingDatabase(Database);
        var liveLogs = new LiveLogs();
        var follower = new DeploymentLogFollower(counted, new DeploymentLogReader(counted), liveLogs, TimeProvider.System, Signals);
        await using var log = new DeploymentLog(id, new SecretMasker(), Database, new OutputOptions(), TimeProvider.System, NullLogger<DeploymentLog>.Instance, liveLogs: liveLogs);
        await log.WriteLineAsync(OutputStream.Stdout, "line 0", default);

        using var timeout = new CancellationTokenSource(Budget);
        var (seen, following) = FollowAll(follower, id, viewers, timeout.Token);
        await Poll.UntilAsync(() => seen.All(lines => Count(lines) == 1), "every viewer follows the live log");

        // The end as a deploy here ends: the last lines, every line stored, the deployment marked finished.
        var opensBefore = counted.Opens;
        for (var i = 1; i < 10; i++)
        {
            await log.WriteLineAsync(OutputStream.Stdout, $"line {i}", default);
        }

        await log.CompleteAsync(default);
        await FinishAsync(id);
        Signals.Announce(ClusterTopics.DeploymentFinished, ClusterTopics.Subject(id));
        await Poll.SignalAsync(Task.WhenAll(following), "every viewer ends with the deployment");

        foreach (var lines in seen)
        {
            lines.Select(l => l.Text).ShouldBe(Enumerable.Range(0, 10).Select(n => $"line {n}"));
        }

        // Each viewer reading the log again and the state twice would be at least 2 × viewers reads; the
        // lines all came live, and the finished state is read once for all of them.
        (counted.Opens - opensBefore).ShouldBeLessThan(viewers + (viewers / 2));
    }

    /// <summary>Viewers following the log from its first line, each collecting what it gets.</summary>
    private static (List<List<LogLine>> Seen, List<Task> Following) FollowAll(DeploymentLogFollower follower, long id, int viewers, CancellationToken cancellationToken)
    {
        var seen = Enumerable.Range(0, viewers).Select(_ => new List<LogLine>()).ToList();
        var following = seen.Select(lines => Task.Run(async () =>
        {
            await foreach (var line in follower.FollowAsync(id, 0, cancellationToken))
            {
                lock (lines)
                {
                    lines.Add(line);
                }
            }
        })).ToList();
        return (seen, following);
    }

    private static int Count(List<LogLine> lines)
    {
        lock (lines)
        {
            return lines.Count;
        }
    }

    /// <summary>A follower on this node that shares readers, as it does when nodes share a PostgreSQL database.</summary>
    private DeploymentLogFollower SharingFollower(IHeavenDatabase database, TimeSpan poll) =>
        new(database, new DeploymentLogReader(database), host.Services.GetRequiredService<LiveLogs>(), TimeProvider.System, Signals)
        {
            SharesReads = true,
            DatabasePollInterval = poll,
        };

    /// <summary>The log as another node writes it: not this node's live log.</summary>
    private DeploymentLog OtherNodesLog(long id) =>
        new(id, new SecretMasker(), Database, new OutputOptions(), TimeProvider.System, NullLogger<DeploymentLog>.Instance);

    /// <summary>Stores lines as the other node does, and announces them as it does.</summary>
    private async Task WriteAsync(DeploymentLog log, long id, int from, int count)
    {
        for (var i = from; i < from + count; i++)
        {
            await log.WriteLineAsync(OutputStream.Stdout, $"line {i}", default);
        }

        await log.FlushAsync(default);
        Signals.Announce(ClusterTopics.LogWritten, ClusterTopics.Subject(id));
    }

    private Task<long> AddRunningDeploymentAsync() => FollowedDeployments.AddRunningAsync(host);

    private Task FinishAsync(long id) => FollowedDeployments.FinishAsync(host, id);

    /// <summary>Counts how often the database is opened: every query a reader or a viewer makes.</summary>
    private sealed class CountingDatabase(IHeavenDatabase inner) : IHeavenDatabase
    {
        private int opens;

        public int Opens => Volatile.Read(ref opens);

        public DatabaseProvider Provider => inner.Provider;

        public Task<HeavenDbContext> OpenAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref opens);
            return inner.OpenAsync(cancellationToken);
        }
    }
}
