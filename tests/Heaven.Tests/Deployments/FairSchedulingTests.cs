using Heaven.Deployments;
using Heaven.Model;
using Heaven.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Tests.Deployments;

/// <summary>
/// One repository flooding the queue cannot take every slot: repositories take turns when a slot
/// frees, and a node runs at most <c>Deployments:MaxParallelPerRepository</c> deploys of one
/// repository at once. The scenarios run on SQLite here and on PostgreSQL in PostgresDeployTests.
/// </summary>
public sealed class FairSchedulingTests
{
    private const int Flood = 40;

    [Fact]
    public Task AnotherRepositorysDeploy_StartsNext_WhenASlotFrees_ThoughOneRepositoryQueuedFortyBeforeIt() =>
        FloodAsync(new Dictionary<string, string?>());

    [Fact]
    public Task ARepository_NeverRunsMoreThanItsLimitAtOnce_TheRestStayQueuedAndRunLater() =>
        PerRepositoryLimitAsync(new Dictionary<string, string?>());

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1001)]
    public void APerRepositoryLimitBelowOne_OrAboveAThousand_IsRefusedAtStart(int limit)
    {
        new DeploymentOptions { MaxParallelPerRepository = limit }.Validate().ShouldBe(
            [$"Deployments:MaxParallelPerRepository must be a whole number from 1 to 1000 (a value at or above Deployments:MaxParallel sets no limit of its own); got {limit}."]);
    }

    [Fact]
    public void APerRepositoryLimitAboveMaxParallel_IsAccepted()
    {
        new DeploymentOptions { MaxParallel = 2, MaxParallelPerRepository = 4 }.Validate().ShouldBeEmpty();
    }

    /// <summary>
    /// Two slots; one repository queues 40 deploys to 40 environments (so no environment holds any
    /// back), then another repository queues one. When one of the flood's deploys ends, the other
    /// repository's deploy is the next to start, not the flood's third.
    /// </summary>
    internal static async Task FloodAsync(IDictionary<string, string?> settings)
    {
        using var flooding = new TestRepository("octo/flood");
        using var other = new TestRepository("octo/other");
        using var scratch = new TemporaryDirectory();
        using var gate = new ScriptGate();
        var started = Path.Combine(scratch.Path, "started");
        var script = $"""
            echo "$HEAVEN_DEPLOYMENT_ID" >> '{started}'
            {gate.WaitForDeployment()}
            """;
        var floodSha = flooding.CommitDeployScript(script);
        var otherSha = other.CommitDeployScript(script);
        // The repository limit (default 4) is above the two slots: only the turn order can let the other in.
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?>(settings) { ["Deployments:MaxParallel"] = "2" });

        var flood = await Task.WhenAll(Enumerable.Range(0, Flood).Select(i => harness.DeployAsync(flooding, floodSha, environment: $"env-{i}")));
        var firstTwo = await StartedAsync(started, 2);
        var (otherGitHubId, otherId) = await harness.DeployAsync(other, otherSha);
        (await harness.DeploymentAsync(otherId)).State.ShouldBe(DeploymentState.Queued);
        flood.Select(f => f.HeavenId).ShouldContain(firstTwo[0]);

        gate.Open(firstTwo[0]);
        var three = await StartedAsync(started, 3);
        three[2].ShouldBe(otherId, $"the deploy that started when a slot freed; the flood is {flood.Min(f => f.HeavenId)}..{flood.Max(f => f.HeavenId)}");

        gate.Open();
        (await harness.WaitForFinalStatusAsync(other, otherGitHubId)).State.ShouldBe("success");
        foreach (var (gitHubId, _) in flood)
        {
            (await harness.WaitForFinalStatusAsync(flooding, gitHubId)).State.ShouldBe("success");
        }
    }

    /// <summary>
    /// Eight slots, a limit of two per repository: of six deploys of one repository two run, four stay
    /// queued (no status, not rejected) while another repository's deploy runs beside them, and they
    /// run later, never more than two at once. Meanwhile what takes no slot is not held back.
    /// </summary>
    internal static async Task PerRepositoryLimitAsync(IDictionary<string, string?> settings)
    {
        using var busy = new TestRepository("octo/busy");
        using var other = new TestRepository("octo/other");
        using var scratch = new TemporaryDirectory();
        using var gate = new ScriptGate();
        var started = Path.Combine(scratch.Path, "started");
        var running = Path.Combine(scratch.Path, "running");
        var counts = Path.Combine(scratch.Path, "counts");
        // Each deploy marks itself running and counts the marks before it says it started: the last of
        // any overlapping ones sees them all.
        var busySha = busy.CommitDeployScript($"""
            mkdir -p '{running}' && touch '{running}'/"$HEAVEN_DEPLOYMENT_ID"
            ls '{running}' | wc -l >> '{counts}'
            echo "$HEAVEN_DEPLOYMENT_ID" >> '{started}'
            {gate.WaitForDeployment()}
            rm '{running}'/"$HEAVEN_DEPLOYMENT_ID"
            """);
        var otherSha = other.CommitDeployScript("true");
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?>(settings)
        {
            ["Deployments:MaxParallel"] = "8",
            ["Deployments:MaxParallelPerRepository"] = "2",
        });

        var deployments = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => harness.DeployAsync(busy, busySha, environment: $"env-{i}")));
        var ids = deployments.Select(d => d.HeavenId).ToList();
        // Queued after the six and run in one of the six free slots: by then the dispatcher has passed over the four.
        var (otherGitHubId, _) = await harness.DeployAsync(other, otherSha);
        (await harness.WaitForFinalStatusAsync(other, otherGitHubId)).State.ShouldBe("success");

        var states = await harness.Host.QueryAsync(db => db.Deployments.Where(d => ids.Contains(d.Id)).Select(d => d.State).ToListAsync());
        states.Count(s => s == DeploymentState.Running).ShouldBe(2, string.Join(", ", states));
        states.Count(s => s == DeploymentState.Queued).ShouldBe(4, string.Join(", ", states));
        var firstTwo = await StartedAsync(started, 2);
        foreach (var (gitHubId, heavenId) in deployments.Where(d => !firstTwo.Contains(d.HeavenId)))
        {
            harness.Story(busy, gitHubId).ShouldBeEmpty($"deployment {heavenId} waits without a status");
        }

        // What takes no slot is still settled at once: a deploy meeting a busy environment, a lock task.
        var busyEnvironment = $"env-{ids.IndexOf(firstTwo[1])}";
        var (clash, _) = await harness.DeployAsync(busy, busySha, environment: busyEnvironment);
        (await harness.WaitForFinalStatusAsync(busy, clash)).Description.ShouldBe("Already deploying.");
        var (lockTask, _) = await harness.DeployAsync(busy, busySha, environment: "elsewhere", task: "deploy:lock");
        (await harness.WaitForFinalStatusAsync(busy, lockTask)).State.ShouldBe("success");

        // One ends: one more of the repository starts in its place.
        gate.Open(firstTwo[0]);
        await StartedAsync(started, 3);
        gate.Open();
        foreach (var (gitHubId, _) in deployments)
        {
            (await harness.WaitForFinalStatusAsync(busy, gitHubId)).State.ShouldBe("success");
            harness.Story(busy, gitHubId).Select(s => s.Split(':')[0]).ShouldBe(["in_progress", "success"]);
        }

        File.ReadAllLines(started).Length.ShouldBe(6);
        File.ReadAllLines(counts).Select(int.Parse).Max().ShouldBe(2, "deploys of the repository running at once");
    }

    /// <summary>Waits until <paramref name="count"/> deploys have started; their Heaven ids in the order they started.</summary>
    private static Task<List<long>> StartedAsync(string started, int count) =>
        Poll.ForAsync(
            () => File.Exists(started) ? File.ReadAllLines(started).Select(long.Parse).ToList() : [],
            ids => ids.Count >= count,
            $"{count} deploys to start",
            DeployHarness.FinalStatusTimeout,
            ids => $"started: {string.Join(", ", ids)}");
}
