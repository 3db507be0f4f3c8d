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
/// A viewer following a log gets every line once and in order, whether the log is written on this node
/// (live feed), on another one (the database), or the viewer fell behind, and lines the stored log
/// elided are skipped, not waited for.
/// </summary>
public sealed class DeploymentLogFollowerTests : IAsyncLifetime
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(60);

    private HeavenTestHost host = null!;

    private IHeavenDatabase Database => host.Services.GetRequiredService<IHeavenDatabase>();

    private DeploymentLogFollower Follower => host.Services.GetRequiredService<DeploymentLogFollower>();

    public async Task InitializeAsync() => host = await HeavenTestHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task ALogWrittenOnAnotherNode_IsFollowedFromTheDatabase_UntilTheDeploymentFinishes()
    {
        var id = await AddRunningDeploymentAsync();
        // Not this node's live feed: the way a log written by another Heaven on the same database looks.
        await using var log = new DeploymentLog(id, new SecretMasker(), Database, new OutputOptions(), TimeProvider.System, NullLogger<DeploymentLog>.Instance);
        using var timeout = new CancellationTokenSource(Budget);
        await using var lines = Follower.FollowAsync(id, 0, timeout.Token).GetAsyncEnumerator(timeout.Token);

        await log.WriteLineAsync(OutputStream.Stdout, "one", default);
        (await lines.MoveNextAsync()).ShouldBeTrue();
        lines.Current.ShouldBe(new LogLine(0, OutputStream.Stdout, "one"));

        await log.WriteLineAsync(OutputStream.Stderr, "two", default);
        await log.WriteLineAsync(OutputStream.Stdout, "three", default);
        (await lines.MoveNextAsync()).ShouldBeTrue();
        lines.Current.ShouldBe(new LogLine(1, OutputStream.Stderr, "two"));
        (await lines.MoveNextAsync()).ShouldBeTrue();
        lines.Current.ShouldBe(new LogLine(2, OutputStream.Stdout, "three"));

        await log.WriteLineAsync(OutputStream.Heaven, "Succeeded: done", default);
        await log.CompleteAsync(default);
        await FinishAsync(id);

        (await lines.MoveNextAsync()).ShouldBeTrue();
        lines.Current.ShouldBe(new LogLine(3, OutputStream.Heaven, "Succeeded: done"));
        (await lines.MoveNextAsync()).ShouldBeFalse();
    }

    [Fact]
    public async Task AViewerStartingBehindTheLiveRing_GetsEveryLineOnce_FromTheDatabaseThenLive()
    {
        var id = await AddRunningDeploymentAsync();
        var outputs = host.Services.GetRequiredService<DeploymentOutputs>();
        await using var log = outputs.OpenLog(id, new SecretMasker());
        var before = LiveLogFeed.Capacity * 2 + 17;
        for (var i = 0; i < before; i++)
        {
            await log.WriteLineAsync(OutputStream.Stdout, $"line {i}", default);
        }

        using var timeout = new CancellationTokenSource(Budget);
        var seen = new List<LogLine>();
        await using (var lines = Follower.FollowAsync(id, 0, timeout.Token).GetAsyncEnumerator(timeout.Token))
        {
            while (seen.Count < before && await lines.MoveNextAsync())
            {
                seen.Add(lines.Current);
            }

            for (var i = before; i < before + 100; i++)
            {
                await log.WriteLineAsync(OutputStream.Stdout, $"line {i}", default);
            }

            while (seen.Count < before + 100 && await lines.MoveNextAsync())
            {
                seen.Add(lines.Current);
            }

            await log.CompleteAsync(default);
            await FinishAsync(id);
            (await lines.MoveNextAsync()).ShouldBeFalse();
        }

        seen.Select(l => l.Number).ShouldBe(Enumerable.Range(0, before + 100).Select(i => (long)i));
        seen.Select(l => l.Text).ShouldBe(Enumerable.Range(0, before + 100).Select(i => $"line {i}"));
    }

    [Fact]
    public async Task LinesTheStoredLogElided_AreSkipped_AndTheLastLinesStillCome()
    {
        var id = await AddRunningDeploymentAsync();
        var live = host.Services.GetRequiredService<LiveLogs>();
        // 64 KB kept (head and tail) of about 250 KB, and more lines than the live ring holds.
        await using var log = new DeploymentLog(id, new SecretMasker(), Database, new OutputOptions { MaxLogBytes = 64 * 1024 }, TimeProvider.System, NullLogger<DeploymentLog>.Instance, liveLogs: live);
        const int total = 6000;
        for (var i = 0; i < total; i++)
        {
            await log.WriteLineAsync(OutputStream.Stdout, $"line {i} {new string('x', 30)}", default);
        }

        await log.FlushAsync(default);
        using var timeout = new CancellationTokenSource(Budget);
        var seen = new List<LogLine>();
        await using (var lines = Follower.FollowAsync(id, 0, timeout.Token).GetAsyncEnumerator(timeout.Token))
        {
            while (await lines.MoveNextAsync())
            {
                seen.Add(lines.Current);
                if (lines.Current.Number == total - 1)
                {
                    await log.CompleteAsync(default);
                    await FinishAsync(id);
                }
            }
        }

        seen[0].Text.ShouldStartWith("line 0 ");
        seen[^1].ShouldBe(new LogLine(total - 1, OutputStream.Stdout, $"line {total - 1} {new string('x', 30)}"));
        seen.Select(l => l.Number).ShouldBeInOrder(SortDirection.Ascending);
        seen.Select(l => l.Number).Distinct().Count().ShouldBe(seen.Count);
        seen.ShouldContain(l => l.Stream == OutputStream.Heaven && l.Text.Contains("elided"));
        seen.Count.ShouldBeLessThan(total);
    }

    [Fact]
    public async Task APacedViewerBehindAFlood_IsToldExactlyWhichLinesWereLeftOut_AndGetsTheNewest_WhileTheWriterNeverWaits()
    {
        var id = await AddRunningDeploymentAsync();
        var outputs = host.Services.GetRequiredService<DeploymentOutputs>();
        await using var log = outputs.OpenLog(id, new SecretMasker());
        var follower = new DeploymentLogFollower(Database, host.Services.GetRequiredService<DeploymentLogReader>(), host.Services.GetRequiredService<LiveLogs>());
        var pace = new LivePace(BurstChars: 4000, CharsPerSecond: 2000);
        await log.WriteLineAsync(OutputStream.Stdout, "before", default);

        using var timeout = new CancellationTokenSource(Budget);
        var items = new List<LogFollowItem>();
        await using (var followed = follower.FollowAsync(id, 0, pace, timeout.Token).GetAsyncEnumerator(timeout.Token))
        {
            (await followed.MoveNextAsync()).ShouldBeTrue();
            items.Add(followed.Current);

            // The viewer reads nothing while the flood is written: the writer goes on regardless.
            const int flood = 20_000;
            for (var i = 1; i <= flood; i++)
            {
                await log.WriteLineAsync(OutputStream.Stdout, $"flood {i}", default);
            }

            while (await followed.MoveNextAsync())
            {
                items.Add(followed.Current);
                if (!followed.Current.Gap && followed.Current.Line.Number == flood)
                {
                    // A line at an ordinary pace after the flood comes in full.
                    await log.WriteLineAsync(OutputStream.Stdout, "after", default);
                }

                if (!followed.Current.Gap && followed.Current.Line.Text == "after")
                {
                    await log.CompleteAsync(default);
                    await FinishAsync(id);
                }
            }
        }

        items[0].ShouldBe(LogFollowItem.Of(new LogLine(0, OutputStream.Stdout, "before")));
        var gap = items.Single(i => i.Gap);
        gap.First.ShouldBe(1);
        gap.SkippedLines.ShouldBeGreaterThan(15_000);
        var after = items.SkipWhile(i => !i.Gap).Skip(1).Select(i => i.Line).ToList();
        after.Select(l => l.Number).ShouldBe(Enumerable.Range((int)gap.Last + 1, after.Count).Select(n => (long)n));
        after[^2].Text.ShouldBe("flood 20000");
        after[^1].Text.ShouldBe("after");
        after.SkipLast(1).ShouldAllBe(l => l.Text == $"flood {l.Number}");
    }

    [Fact]
    public async Task AFinishedDeployment_IsFollowedToItsEndAtOnce_AndAnUnknownOneEndsEmpty()
    {
        var id = await AddRunningDeploymentAsync();
        await using (var log = new DeploymentLog(id, new SecretMasker(), Database, new OutputOptions(), TimeProvider.System, NullLogger<DeploymentLog>.Instance))
        {
            await log.WriteLineAsync(OutputStream.Stdout, "a", default);
            await log.WriteLineAsync(OutputStream.Stdout, "b", default);
            await log.CompleteAsync(default);
        }

        await FinishAsync(id);
        using var timeout = new CancellationTokenSource(Budget);

        (await Follower.FollowAsync(id, 1, timeout.Token).ToListAsync(timeout.Token)).ShouldBe([new LogLine(1, OutputStream.Stdout, "b")]);
        (await Follower.FollowAsync(id + 1000, 0, timeout.Token).ToListAsync(timeout.Token)).ShouldBeEmpty();
    }

    private Task<long> AddRunningDeploymentAsync() => FollowedDeployments.AddRunningAsync(host);

    private Task FinishAsync(long id) => FollowedDeployments.FinishAsync(host, id);
}
