using Heaven.Deployments;
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

    public void Dispose()
    {
        repository.Dispose();
        scratch.Dispose();
    }

    [Fact]
    public async Task Reject_RunsOne_AndTurnsAwayTheOthersAsAlreadyDeploying()
    {
        await using var harness = await DeployHarness.StartAsync();
        // Long enough that all fifty arrive while the first one runs.
        var sha = repository.CommitDeployScript("sleep 3");

        var burst = await FireAsync(harness, sha);

        var first = burst.MinBy(b => b.HeavenId);
        foreach (var (gitHubId, heavenId) in burst)
        {
            await harness.WaitForFinalStatusAsync(repository, gitHubId, TimeSpan.FromSeconds(60));
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
        var sha = repository.CommitDeployScript(OverlapCheckingScript(firstSleeps: 3));

        var burst = await FireAsync(harness, sha);

        var first = burst.MinBy(b => b.HeavenId);
        foreach (var (gitHubId, heavenId) in burst)
        {
            await harness.WaitForFinalStatusAsync(repository, gitHubId, TimeSpan.FromSeconds(120));
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
        var sha = repository.CommitDeployScript("sleep 2");
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
        (await harness.WaitForFinalStatusAsync(repository, waiting[1], TimeSpan.FromSeconds(30))).State.ShouldBe("success");
        harness.Story(repository, waiting[0])[0].ShouldBe("queued: Waiting for production (1 ahead)");
        harness.Story(repository, waiting[1])[0].ShouldBe("queued: Waiting for production (2 ahead)");
    }

    [Fact]
    public async Task Supersede_RunsTheFirstThenOnlyTheNewest_ClosingEveryOneInBetween()
    {
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Deployments:Concurrency"] = "supersede" });
        var sha = repository.CommitDeployScript(OverlapCheckingScript(firstSleeps: 3));

        var burst = await FireAsync(harness, sha);

        var first = burst.MinBy(b => b.HeavenId);
        var newest = burst.MaxBy(b => b.HeavenId);
        var byGitHubId = burst.ToDictionary(b => b.GitHubId, b => b.HeavenId);
        foreach (var (gitHubId, heavenId) in burst)
        {
            await harness.WaitForFinalStatusAsync(repository, gitHubId, TimeSpan.FromSeconds(60));
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
        var sha = repository.CommitDeployScript("sleep 1");

        var (production, _) = await harness.DeployAsync(repository, sha);
        var (staging, _) = await harness.DeployAsync(repository, sha, environment: "staging");
        await harness.GitHub.WaitForStatusAsync(s => s.DeploymentId == production && s.State == "in_progress");
        await harness.GitHub.WaitForStatusAsync(s => s.DeploymentId == staging && s.State == "in_progress");
        var (secondProduction, _) = await harness.DeployAsync(repository, sha);
        var (secondStaging, _) = await harness.DeployAsync(repository, sha, environment: "staging");

        (await harness.WaitForFinalStatusAsync(repository, secondStaging)).Description.ShouldBe("Already deploying.");
        (await harness.WaitForFinalStatusAsync(repository, secondProduction, TimeSpan.FromSeconds(30))).State.ShouldBe("success");
        Kinds(harness.Story(repository, secondProduction)).ShouldBe(["queued", "in_progress", "success"]);
    }

    /// <summary>Records the order deploys ran in and whether two ever overlapped; the first one takes its time.</summary>
    private string OverlapCheckingScript(int firstSleeps) => $$"""
        dir={{scratch.Path}}
        mkdir "$dir/running" 2>/dev/null || { touch "$dir/overlap"; exit 3; }
        echo "$HEAVEN_DEPLOYMENT_ID" >> "$dir/order"
        if [ ! -e "$dir/first" ]; then touch "$dir/first"; sleep {{firstSleeps}}; else sleep 0.05; fi
        rmdir "$dir/running"
        """;

    private async Task<(long GitHubId, long HeavenId)[]> FireAsync(DeployHarness harness, string sha) =>
        await Task.WhenAll(Enumerable.Range(0, Burst).Select(_ => harness.DeployAsync(repository, sha)));

    private static List<string> Kinds(IReadOnlyList<string> story) => story.Select(s => s.Split(':')[0]).ToList();
}
