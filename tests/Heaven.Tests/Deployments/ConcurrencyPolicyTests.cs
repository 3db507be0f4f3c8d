using Heaven.Model;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Deployments;

/// <summary>
/// Fifty deployments to one environment at the same moment: exactly the policy's outcome, with one
/// status story per deployment.
/// </summary>
public sealed class ConcurrencyPolicyTests : IDisposable
{
    private const int Burst = 50;
    private readonly TestRepository repository = new("octo/app");
    private readonly TemporaryDirectory scratch = new();
    private readonly ScriptGate gate = new();

    public void Dispose()
    {
        repository.Dispose();
        scratch.Dispose();
        gate.Dispose();
    }

    [Fact]
    public async Task Reject_RunsOne_AndTurnsAwayTheOthersAsAlreadyDeploying()
    {
        await using var harness = await DeployHarness.StartAsync();
        // The first one runs until every other has been turned away.
        var sha = repository.CommitDeployScript(gate.Wait());

        var burst = await FireAsync(harness, sha);
        await WhileTheFirstRunsAsync(harness, "the others to be turned away", statuses => statuses.Count(s => s.Description == "Already deploying.") == Burst - 1);

        var first = burst.MinBy(b => b.HeavenId);
        foreach (var (gitHubId, heavenId) in burst)
        {
            await harness.WaitForFinalStatusAsync(repository, gitHubId);
            var story = Kinds(harness.Story(repository, gitHubId));
            if (heavenId == first.HeavenId)
            {
                story.ShouldBe(["in_progress", "success"]);
            }
            else
            {
                harness.Story(repository, gitHubId).ShouldBe(["error: Already deploying."]);
                (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Rejected);
            }
        }
    }

    [Fact]
    public async Task Queue_RunsEveryOne_OneAfterTheOther_InTheOrderTheyCame()
    {
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?>
        {
            ["Deployments:Concurrency"] = "queue",
            ["Deployments:MaxQueueLength"] = "100",
        });
        var sha = repository.CommitDeployScript(OverlapCheckingScript());

        var burst = await FireAsync(harness, sha);
        await WhileTheFirstRunsAsync(harness, "the others to queue", statuses => statuses.Count(s => s.State == "queued") == Burst - 1);

        var first = burst.MinBy(b => b.HeavenId);
        foreach (var (gitHubId, heavenId) in burst)
        {
            await harness.WaitForFinalStatusAsync(repository, gitHubId);
            var story = Kinds(harness.Story(repository, gitHubId));
            story.ShouldBe(heavenId == first.HeavenId ? ["in_progress", "success"] : ["queued", "in_progress", "success"], $"deployment {heavenId}");
        }

        File.Exists(Path.Combine(scratch.Path, "overlap")).ShouldBeFalse("two deploys ran at once");
        var order = File.ReadAllLines(Path.Combine(scratch.Path, "order")).Select(long.Parse).ToList();
        order.ShouldBe(burst.Select(b => b.HeavenId).Order().ToList());
    }

    [Fact]
    public async Task Queue_BeyondItsMaximumLength_RejectsTheNewcomers()
    {
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?>
        {
            ["Deployments:Concurrency"] = "queue",
            ["Deployments:MaxQueueLength"] = "2",
        });
        var sha = repository.CommitDeployScript(gate.Wait());
        var (running, _) = await harness.DeployAsync(repository, sha);
        await harness.GitHub.WaitForStatusAsync(s => s.DeploymentId == running && s.State == "in_progress");

        var waiting = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            var (id, _) = await harness.DeployAsync(repository, sha);
            await harness.GitHub.WaitForStatusAsync(s => s.DeploymentId == id);
            waiting.Add(id);
        }

        harness.Story(repository, waiting[2]).ShouldBe(["error: Already deploying; the queue is full (2 waiting)."]);
        gate.Open();
        (await harness.WaitForFinalStatusAsync(repository, waiting[1])).State.ShouldBe("success");
        harness.Story(repository, waiting[0])[0].ShouldBe("queued: Waiting for production (1 ahead)");
        harness.Story(repository, waiting[1])[0].ShouldBe("queued: Waiting for production (2 ahead)");
    }

    [Fact]
    public async Task Supersede_RunsTheFirstThenOnlyTheNewest_ClosingEveryOneInBetween()
    {
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Deployments:Concurrency"] = "supersede" });
        var sha = repository.CommitDeployScript(OverlapCheckingScript());

        var burst = await FireAsync(harness, sha);
        await WhileTheFirstRunsAsync(
            harness,
            "every other to queue, and all but the newest to be superseded",
            statuses => statuses.Count(s => s.State == "queued") == Burst - 1 && statuses.Count(s => s.Description?.StartsWith("Superseded by deployment ", StringComparison.Ordinal) == true) == Burst - 2);

        var first = burst.MinBy(b => b.HeavenId);
        var newest = burst.MaxBy(b => b.HeavenId);
        var byGitHubId = burst.ToDictionary(b => b.GitHubId, b => b.HeavenId);
        foreach (var (gitHubId, heavenId) in burst)
        {
            await harness.WaitForFinalStatusAsync(repository, gitHubId);
            var story = harness.Story(repository, gitHubId);
            if (heavenId == first.HeavenId)
            {
                Kinds(story).ShouldBe(["in_progress", "success"]);
            }
            else if (heavenId == newest.HeavenId)
            {
                Kinds(story).ShouldBe(["queued", "in_progress", "success"]);
            }
            else
            {
                story.Count.ShouldBe(2, string.Join(" | ", story));
                story[0].ShouldBe("queued: Waiting for production (1 ahead)");
                story[1].ShouldStartWith("error: Superseded by deployment ");
                // Superseded by a newer deployment of the same burst.
                byGitHubId[long.Parse(story[1]["error: Superseded by deployment ".Length..])].ShouldBeGreaterThan(heavenId);
                (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Rejected);
            }
        }

        File.ReadAllLines(Path.Combine(scratch.Path, "order")).Select(long.Parse).ShouldBe([first.HeavenId, newest.HeavenId]);
    }

    [Fact]
    public async Task APolicyOfTheRepositoryOrEnvironment_OverridesTheServersDefault()
    {
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?>
        {
            ["Repositories:octo/app:Concurrency"] = "queue",
            ["Repositories:octo/app:Environments:staging:Concurrency"] = "reject",
        });
        var sha = repository.CommitDeployScript(gate.Wait());

        var (production, _) = await harness.DeployAsync(repository, sha);
        var (staging, _) = await harness.DeployAsync(repository, sha, environment: "staging");
        await harness.GitHub.WaitForStatusAsync(s => s.DeploymentId == production && s.State == "in_progress");
        await harness.GitHub.WaitForStatusAsync(s => s.DeploymentId == staging && s.State == "in_progress");
        var (secondProduction, _) = await harness.DeployAsync(repository, sha);
        var (secondStaging, _) = await harness.DeployAsync(repository, sha, environment: "staging");

        (await harness.WaitForFinalStatusAsync(repository, secondStaging)).Description.ShouldBe("Already deploying.");
        await harness.GitHub.WaitForStatusAsync(s => s.DeploymentId == secondProduction && s.State == "queued");
        gate.Open();
        (await harness.WaitForFinalStatusAsync(repository, secondProduction)).State.ShouldBe("success");
        Kinds(harness.Story(repository, secondProduction)).ShouldBe(["queued", "in_progress", "success"]);
    }

    /// <summary>Records the order deploys ran in and whether two ever overlapped; the first one runs until the gate opens.</summary>
    private string OverlapCheckingScript() => $$"""
        dir={{scratch.Path}}
        mkdir "$dir/running" 2>/dev/null || { touch "$dir/overlap"; exit 3; }
        echo "$HEAVEN_DEPLOYMENT_ID" >> "$dir/order"
        if [ ! -e "$dir/first" ]; then touch "$dir/first"; {{gate.Wait()}}; else sleep 0.05; fi
        rmdir "$dir/running"
        """;

    /// <summary>Waits, while the first deploy holds the environment, until the statuses show <paramref name="what"/>; then lets the first one finish.</summary>
    private async Task WhileTheFirstRunsAsync(DeployHarness harness, string what, Func<IReadOnlyList<PostedStatus>, bool> seen)
    {
        await Poll.UntilAsync(() => seen(harness.GitHub.Statuses), what, DeployHarness.FinalStatusTimeout, harness.GitHub.DescribeRequests);
        gate.Open();
    }

    private async Task<(long GitHubId, long HeavenId)[]> FireAsync(DeployHarness harness, string sha) =>
        await Task.WhenAll(Enumerable.Range(0, Burst).Select(_ => harness.DeployAsync(repository, sha)));

    private static List<string> Kinds(IReadOnlyList<string> story) => story.Select(s => s.Split(':')[0]).ToList();
}
