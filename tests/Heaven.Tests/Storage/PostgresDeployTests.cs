using Heaven.Tests.Deployments;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Storage;

/// <summary>Two Heaven nodes on one PostgreSQL database: every deployment runs exactly once.</summary>
[Collection(HeavyHostsCollection.Name)]
public sealed class PostgresDeployTests
{
    [PostgresFact]
    public async Task TwoNodes_RunEachDeploymentOnce_AndKeepOneDeployPerEnvironment()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await using var gitHub = await FakeGitHub.StartAsync();
        using var repository = new TestRepository("octo/cluster");
        var sha = repository.CommitDeployScript("echo \"node run for $DEPLOY_ENV\"\nsleep 0.5");
        var settings = new Dictionary<string, string?>
        {
            ["Database:Provider"] = "Postgres",
            ["Database:ConnectionString"] = database.ConnectionString,
        };
        await using var first = await DeployHarness.StartAsync(settings, gitHub: gitHub);
        await using var second = await DeployHarness.StartAsync(settings, gitHub: gitHub);

        // Twelve environments, each sent to one node; the same environment twice, once to each node.
        var sends = Enumerable.Range(0, 12).Select(i => (i % 2 == 0 ? first : second).DeployAsync(repository, sha, environment: $"env-{i}")).ToList();
        var deployments = await Task.WhenAll(sends);
        var clash = await Task.WhenAll(first.DeployAsync(repository, sha, environment: "shared"), second.DeployAsync(repository, sha, environment: "shared"));

        foreach (var (gitHubId, _) in deployments)
        {
            (await first.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");
            first.Story(repository, gitHubId).Select(s => s.Split(':')[0]).ShouldBe(["in_progress", "success"]);
        }

        var clashStories = new List<string>();
        foreach (var (gitHubId, _) in clash)
        {
            clashStories.Add((await first.WaitForFinalStatusAsync(repository, gitHubId)).Description!);
        }

        // Either both ran one after the other, or the second met the first running: never two at once.
        clashStories.Count(d => d == "Already deploying.").ShouldBeLessThanOrEqualTo(1);
        var running = await database.ScalarAsync<long>("SELECT count(*) FROM deployments WHERE state = 'Running'");
        running.ShouldBe(0);
        var ran = await database.ScalarAsync<long>("SELECT count(*) FROM deployments WHERE state = 'Succeeded'");
        ran.ShouldBe(12 + clashStories.Count(d => d != "Already deploying."));
    }

    [PostgresFact]
    public async Task TwoNodes_QueueOneEnvironment_RunningEveryDeploymentOnce_NeverTwoAtOnce()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await using var gitHub = await FakeGitHub.StartAsync();
        using var repository = new TestRepository("octo/queue");
        using var scratch = new TemporaryDirectory();
        // The first to run holds the environment until every other has queued.
        using var gate = new ScriptGate();
        var sha = repository.CommitDeployScript($$"""
            dir={{scratch.Path}}
            mkdir "$dir/running" 2>/dev/null || { touch "$dir/overlap"; exit 3; }
            echo "$HEAVEN_DEPLOYMENT_ID" >> "$dir/order"
            if [ ! -e "$dir/first" ]; then touch "$dir/first"; {{gate.Wait()}}; else sleep 0.05; fi
            rmdir "$dir/running"
            """);
        var settings = new Dictionary<string, string?>
        {
            ["Database:Provider"] = "Postgres",
            ["Database:ConnectionString"] = database.ConnectionString,
            ["Deployments:Concurrency"] = "queue",
            ["Deployments:MaxQueueLength"] = "100",
        };
        await using var first = await DeployHarness.StartAsync(settings, gitHub: gitHub);
        await using var second = await DeployHarness.StartAsync(settings, gitHub: gitHub);

        var deployments = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => (i % 2 == 0 ? first : second).DeployAsync(repository, sha)));
        await Poll.UntilAsync(() => gitHub.Statuses.Count(s => s.State == "queued") == 19, "every deployment but the running one to queue", DeployHarness.FinalStatusTimeout, gitHub.DescribeRequests);
        gate.Open();

        foreach (var (gitHubId, _) in deployments)
        {
            (await first.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");
        }

        // The one that found the environment free ran first and never queued; every other waited in line.
        // Which one that is depends on which node claimed first, not on the ids: the script wrote the order.
        var order = File.ReadAllLines(Path.Combine(scratch.Path, "order"));
        order.Length.ShouldBe(20);
        var firstToRun = long.Parse(order[0], System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (gitHubId, heavenId) in deployments)
        {
            first.Story(repository, gitHubId).Select(s => s.Split(':')[0]).ShouldBe(heavenId == firstToRun ? ["in_progress", "success"] : ["queued", "in_progress", "success"]);
        }

        File.Exists(Path.Combine(scratch.Path, "overlap")).ShouldBeFalse("two deploys ran at once");
    }

    [PostgresFact]
    public async Task OnPostgres_AnotherRepositorysDeploy_StartsNext_WhenASlotFrees_ThoughOneRepositoryQueuedFortyBeforeIt()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await FairSchedulingTests.FloodAsync(On(database));
    }

    [PostgresFact]
    public async Task OnPostgres_ARepository_NeverRunsMoreThanItsLimitAtOnce_TheRestStayQueuedAndRunLater()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await FairSchedulingTests.PerRepositoryLimitAsync(On(database));
    }

    private static Dictionary<string, string?> On(PostgresDatabase database) => new()
    {
        ["Database:Provider"] = "Postgres",
        ["Database:ConnectionString"] = database.ConnectionString,
    };
}
