using System.Text.Json.Nodes;
using Heaven.AutoDeploy;
using Heaven.Locks;
using Heaven.Repositories;
using Heaven.Storage;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.AutoDeploy;

/// <summary>
/// A green commit on the default branch deploys itself to the environments a repository opted in,
/// and every evaluation says what it decided and why. Inputs are the original's commit status
/// fixtures; GitHub is a real HTTP fake that records the exact requests.
/// </summary>
public sealed class AutoDeployTests : IAsyncLifetime
{
    private const string Repo = "atmos/my-robot";
    private const string Context = "Janky (github)";
    // The fixtures' sha, as GitHub sent it.
    private const string Sha = "1333c018defc50bfe123e2e7acbc83bb";
    private const string Deployed = "0ff1ce0ff1ce0ff1ce0ff1ce0ff1ce0ff1ce0ff1";

    private static readonly JsonObject PreviousPayload = new()
    {
        ["name"] = "my-robot",
        ["provider"] = "capistrano",
        ["notify"] = new JsonObject { ["room"] = "ops", ["user"] = "atmos", ["adapter"] = "slack" },
        ["config"] = new JsonObject { ["heroku_production_name"] = "my-robot-production" },
    };

    private readonly List<HeavenTestHost> hosts = [];
    private FakeGitHub gitHub = null!;

    public async Task InitializeAsync() => gitHub = await FakeGitHub.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var host in hosts)
        {
            await host.DisposeAsync();
        }

        await gitHub.DisposeAsync();
    }

    [Fact]
    public async Task AGreenDefaultBranchCommit_CreatesTheDeployment_WithTheLastDeploymentsPayload()
    {
        var previous = gitHub.AddDeployment(Repo, Deployed, "production", PreviousPayload, "master", "pending", "success");
        gitHub.SetCombinedStatus(Repo, Sha, "success", (Context, "success"));
        gitHub.SetCompare(Repo, Deployed, Sha, "ahead", aheadBy: 2);
        var host = await StartAsync();

        await SendStatusAsync(host, Fixtures.Read("status_success.json"));

        var decision = (await WaitForDecisionsAsync(host, 1)).Single();
        var create = gitHub.RequestsTo("deployments").ShouldHaveSingleItem();
        create.Status.ShouldBe(201);
        var expectedPayload = (JsonObject)PreviousPayload.DeepClone();
        expectedPayload["auto_deploy"] = true;
        JsonNode.DeepEquals(JsonNode.Parse(create.Body), new JsonObject
        {
            ["ref"] = Sha,
            ["task"] = "deploy",
            ["auto_merge"] = false,
            ["payload"] = expectedPayload,
            ["environment"] = "production",
            ["description"] = "Heaven auto deploy triggered by a commit status change",
            ["required_contexts"] = new JsonArray(Context),
        }).ShouldBeTrue(create.Body);
        var created = gitHub.CreatedDeployments.ShouldHaveSingleItem();
        decision.Outcome.ShouldBe(AutoDeployOutcome.Deployed);
        decision.GitHubDeploymentId.ShouldBe((long)created["id"]!);
        decision.Summary.ShouldBe($"deployed: created deployment {created["id"]}: 1333c01 is 2 commits ahead of 0ff1ce0");
        decision.Trigger.ShouldBe("status Janky (github) success");
        previous.ShouldBeLessThan((long)created["id"]!);
    }

    [Fact]
    public async Task AnEvent_IsEvaluatedWhenItArrives_NotAtTheNextPoll()
    {
        var host = await StartAsync(new() { ["AutoDeploy:Delivery:PollInterval"] = "00:05:00" });
        // The first poll happens at start; once it is over the auto-deployer sleeps for five minutes,
        // and what arrives now must not wait for them.
        await host.IdleAsync(OutboxConsumer.AutoDeployer);

        await SendStatusAsync(host, Fixtures.Read("status_pending.json"));

        // Within the wait's budget, far sooner than the poll.
        (await WaitForDecisionsAsync(host, 1)).Single().Summary.ShouldBe("skipped: context Janky (github) is pending");
    }

    [Fact]
    public async Task ACommitOffTheDefaultBranch_IsSkipped_WithoutAskingGitHub()
    {
        var host = await StartAsync();
        var body = JsonNode.Parse(Fixtures.Read("status_success.json"))!;
        body["branches"] = new JsonArray(new JsonObject { ["name"] = "break-up-notifiers", ["commit"] = new JsonObject { ["sha"] = Sha } });

        await SendStatusAsync(host, body.ToJsonString());

        (await WaitForDecisionsAsync(host, 1)).Single().Summary.ShouldBe("skipped: 1333c01 is not the head of the default branch (master)");
        gitHub.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task APendingRequiredContext_IsSkipped_FromTheEventAlone()
    {
        var host = await StartAsync();

        await SendStatusAsync(host, Fixtures.Read("status_pending.json"));

        (await WaitForDecisionsAsync(host, 1)).Single().Summary.ShouldBe("skipped: context Janky (github) is pending");
        gitHub.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task AnotherContextTurningGreen_WhileTheRequiredOneIsPending_IsSkipped()
    {
        gitHub.AddDeployment(Repo, Deployed, "production", PreviousPayload, "master", "success");
        gitHub.SetCombinedStatus(Repo, Sha, "pending", (Context, "pending"), ("coverage", "success"));
        var host = await StartAsync();
        var body = JsonNode.Parse(Fixtures.Read("status_success.json"))!;
        body["context"] = "coverage";

        await SendStatusAsync(host, body.ToJsonString());

        (await WaitForDecisionsAsync(host, 1)).Single().Summary.ShouldBe("skipped: context Janky (github) is pending");
        gitHub.RequestsTo("deployments").ShouldBeEmpty();
    }

    [Fact]
    public async Task ARequiredContextThatNeverReported_IsSkipped()
    {
        gitHub.SetCombinedStatus(Repo, Sha, "success", ("coverage", "success"));
        var host = await StartAsync();

        await SendStatusAsync(host, Fixtures.Read("status_success.json"));

        (await WaitForDecisionsAsync(host, 1)).Single().Summary.ShouldBe("skipped: context Janky (github) has not reported on 1333c01 yet");
    }

    [Theory]
    [InlineData("behind", "skipped: 1333c01 is behind production's 0ff1ce0 by 3 commits")]
    [InlineData("identical", "skipped: 1333c01 is what production runs already")]
    [InlineData("diverged", "skipped: 1333c01 has diverged from production's 0ff1ce0; only a commit ahead of it deploys itself")]
    public async Task ACommitNotAheadOfTheDeployedOne_IsSkipped(string comparison, string expected)
    {
        gitHub.AddDeployment(Repo, Deployed, "production", PreviousPayload, "master", "success");
        gitHub.SetCombinedStatus(Repo, Sha, "success", (Context, "success"));
        gitHub.SetCompare(Repo, Deployed, Sha, comparison, aheadBy: comparison == "diverged" ? 1 : 0, behindBy: 3);
        var host = await StartAsync();

        await SendStatusAsync(host, Fixtures.Read("status_success.json"));

        (await WaitForDecisionsAsync(host, 1)).Single().Summary.ShouldBe(expected);
        gitHub.RequestsTo("deployments").ShouldBeEmpty();
    }

    [Fact]
    public async Task TheLastSuccessfulDeployment_IsTheBase_EvenWhenANewerOneFailed()
    {
        gitHub.AddDeployment(Repo, Deployed, "production", PreviousPayload, "master", "success", "inactive");
        var failedPayload = new JsonObject { ["name"] = "my-robot", ["provider"] = "fabric" };
        gitHub.AddDeployment(Repo, "badbadbadbadbadbadbadbadbadbadbadbadbad0", "production", failedPayload, "master", "pending", "failure");
        gitHub.SetCombinedStatus(Repo, Sha, "success", (Context, "success"));
        gitHub.SetCompare(Repo, Deployed, Sha, "ahead", aheadBy: 1);
        var host = await StartAsync();

        await SendStatusAsync(host, Fixtures.Read("status_success.json"));

        (await WaitForDecisionsAsync(host, 1)).Single().Summary.ShouldEndWith(": 1333c01 is 1 commit ahead of 0ff1ce0");
        var request = gitHub.RequestsTo("deployments").ShouldHaveSingleItem().Json();
        // How the environment is deployed comes from its newest deployment, failed or not.
        request.GetProperty("payload").GetProperty("provider").GetString().ShouldBe("fabric");
        gitHub.RequestsTo("compare").ShouldHaveSingleItem().Path.ShouldBe($"/repos/{Repo}/compare/{Deployed}...{Sha}");
    }

    [Fact]
    public async Task AnEnvironmentWithoutASuccessfulDeployment_IsLeftToAPerson()
    {
        gitHub.AddDeployment(Repo, Deployed, "production", PreviousPayload, "master", "failure");
        gitHub.SetCombinedStatus(Repo, Sha, "success", (Context, "success"));
        var host = await StartAsync();

        await SendStatusAsync(host, Fixtures.Read("status_success.json"));

        (await WaitForDecisionsAsync(host, 1)).Single().Summary.ShouldBe("skipped: production has no successful deployment to compare with; deploy it once by hand");
    }

    [Fact]
    public async Task ALockedEnvironment_IsSkipped_EvenWhenItsHolderMayDeploy()
    {
        gitHub.AddDeployment(Repo, Deployed, "production", PreviousPayload, "master", "success");
        gitHub.SetCombinedStatus(Repo, Sha, "success", (Context, "success"));
        gitHub.SetCompare(Repo, Deployed, Sha, "ahead", aheadBy: 1);
        var host = await StartAsync(new() { ["Locks:OwnerMayDeploy"] = "true" });
        await using (var db = await host.Services.GetRequiredService<IHeavenDatabase>().OpenAsync(CancellationToken.None))
        {
            db.EnvironmentLocks.Add(new EnvironmentLock
            {
                Repository = Repo,
                Environment = "production",
                LockKey = EnvironmentLock.KeyOf(Repo, "production"),
                LockedBy = "atmos",
                Reason = "release freeze",
                LockedAt = DateTime.UtcNow,
            });
            await db.SaveChangesAsync();
        }

        await SendStatusAsync(host, Fixtures.Read("status_success.json"));

        (await WaitForDecisionsAsync(host, 1)).Single().Summary.ShouldBe("skipped: production is locked by atmos: release freeze");
        gitHub.RequestsTo("deployments").ShouldBeEmpty();
    }

    [Fact]
    public async Task AShaAlreadyDeployedToTheEnvironment_IsNotDeployedAgain()
    {
        gitHub.AddDeployment(Repo, Deployed, "production", PreviousPayload, "master", "success");
        var existing = gitHub.AddDeployment(Repo, Sha, "production", PreviousPayload, "master", "failure");
        gitHub.SetCombinedStatus(Repo, Sha, "success", (Context, "success"));
        var host = await StartAsync();

        await SendStatusAsync(host, Fixtures.Read("status_success.json"));

        (await WaitForDecisionsAsync(host, 1)).Single().Summary.ShouldBe($"skipped: 1333c01 was already deployed to production (deployment {existing})");
        gitHub.RequestsTo("deployments").ShouldBeEmpty();
    }

    [Fact]
    public async Task EachConfiguredEnvironment_IsDecidedOnItsOwn_AndOnlyThose()
    {
        gitHub.AddDeployment(Repo, Deployed, "staging", PreviousPayload, "master", "success");
        gitHub.AddDeployment(Repo, Deployed, "production", PreviousPayload, "master", "success");
        gitHub.AddDeployment(Repo, Deployed, "qa", PreviousPayload, "master", "success");
        gitHub.SetCombinedStatus(Repo, Sha, "success", (Context, "success"));
        gitHub.SetCompare(Repo, Deployed, Sha, "ahead", aheadBy: 1);
        var host = await StartAsync(new() { [$"Repositories:{Repo}:AutoDeploy:Environments"] = "staging,production" });
        await using (var db = await host.Services.GetRequiredService<IHeavenDatabase>().OpenAsync(CancellationToken.None))
        {
            db.EnvironmentLocks.Add(new EnvironmentLock { Repository = Repo, Environment = "production", LockKey = EnvironmentLock.KeyOf(Repo, "production"), LockedBy = "alice", LockedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
        }

        await SendStatusAsync(host, Fixtures.Read("status_success.json"));

        var decisions = await WaitForDecisionsAsync(host, 2);
        decisions.Select(d => $"{d.Environment} {d.Outcome}").ShouldBe(["staging Deployed", "production Skipped"]);
        decisions[1].Summary.ShouldBe("skipped: production is locked by alice");
        gitHub.RequestsTo("deployments").ShouldHaveSingleItem().Json().GetProperty("environment").GetString().ShouldBe("staging");
    }

    [Fact]
    public async Task ACompletedCheckSuite_DeploysWhenEveryCheckRunAndStatusIsGreen()
    {
        gitHub.AddDeployment(Repo, Deployed, "production", PreviousPayload, "master", "success");
        gitHub.SetCombinedStatus(Repo, Sha, "success", (Context, "success"));
        gitHub.SetCheckRuns(Repo, Sha, new FakeCheckRun("build"), new FakeCheckRun("lint", Conclusion: "neutral"));
        gitHub.SetCompare(Repo, Deployed, Sha, "ahead", aheadBy: 4);
        var host = await StartAsync(new() { [$"Repositories:{Repo}:AutoDeploy:Contexts"] = "all" });

        await SendCheckSuiteAsync(host, "completed", "master");

        var decision = (await WaitForDecisionsAsync(host, 1)).Single();
        decision.Outcome.ShouldBe(AutoDeployOutcome.Deployed, decision.Summary);
        decision.Trigger.ShouldBe("check_suite github-actions completed success");
        var request = gitHub.RequestsTo("deployments").ShouldHaveSingleItem().Json();
        // "all": GitHub checks every context itself when none are named.
        request.TryGetProperty("required_contexts", out _).ShouldBeFalse();
    }

    [Fact]
    public async Task AFailedCheckRun_BlocksAnAllContextsRepository()
    {
        gitHub.AddDeployment(Repo, Deployed, "production", PreviousPayload, "master", "success");
        gitHub.SetCombinedStatus(Repo, Sha, "success", (Context, "success"));
        gitHub.SetCheckRuns(Repo, Sha, new FakeCheckRun("build"), new FakeCheckRun("test", Conclusion: "failure"), new FakeCheckRun("e2e", Status: "in_progress", Conclusion: null));
        var host = await StartAsync(new() { [$"Repositories:{Repo}:AutoDeploy:Contexts"] = "all" });

        await SendCheckSuiteAsync(host, "completed", "master");

        (await WaitForDecisionsAsync(host, 1)).Single().Summary.ShouldBe("skipped: context test is failure (and 1 more)");
    }

    [Fact]
    public async Task ACheckSuiteOnAnotherBranch_OrNotCompleted_DeploysNothing()
    {
        var host = await StartAsync();

        await SendCheckSuiteAsync(host, "requested", "master");
        await SendCheckSuiteAsync(host, "completed", "feature");

        (await WaitForDecisionsAsync(host, 1)).Single().Summary.ShouldBe("skipped: 1333c01 is not the head of the default branch (master)");
        await WaitForWorkItemsDoneAsync(host);
        gitHub.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task ARepositoryWithoutAutoDeploy_IsLeftAlone()
    {
        var host = await StartAsync(new() { [$"Repositories:{Repo}:AutoDeploy:Environments"] = null }, configureRepository: false);

        await SendStatusAsync(host, Fixtures.Read("status_success.json"));

        await WaitForWorkItemsDoneAsync(host);
        (await DecisionsAsync(host)).ShouldBeEmpty();
        gitHub.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task GitHubBeingDown_DelaysTheDecision_ButDoesNotLoseIt()
    {
        gitHub.AddDeployment(Repo, Deployed, "production", PreviousPayload, "master", "success");
        gitHub.SetCombinedStatus(Repo, Sha, "success", (Context, "success"));
        gitHub.SetCompare(Repo, Deployed, Sha, "ahead", aheadBy: 1);
        gitHub.FailNext("compare", 502, times: 2);
        var host = await StartAsync();

        await SendStatusAsync(host, Fixtures.Read("status_success.json"));

        var decision = (await WaitForDecisionsAsync(host, 1)).Single();
        decision.Outcome.ShouldBe(AutoDeployOutcome.Deployed, decision.Summary);
        gitHub.RequestsTo("compare").Select(r => r.Status).ShouldBe([502, 502, 200]);
        gitHub.RequestsTo("deployments").ShouldHaveSingleItem();
    }

    [Fact]
    public async Task GitHubRefusingTheDeployment_IsRecordedAsFailed_AndNotRetried()
    {
        gitHub.AddDeployment(Repo, Deployed, "production", PreviousPayload, "master", "success");
        gitHub.SetCombinedStatus(Repo, Sha, "success", (Context, "success"));
        gitHub.SetCompare(Repo, Deployed, Sha, "ahead", aheadBy: 1);
        gitHub.FailNext("deployments", 409, message: "Conflict: Commit status checks failed for master.");
        var host = await StartAsync();

        await SendStatusAsync(host, Fixtures.Read("status_success.json"));

        var decision = (await WaitForDecisionsAsync(host, 1)).Single();
        decision.Outcome.ShouldBe(AutoDeployOutcome.Failed);
        decision.Summary.ShouldStartWith("failed: GitHub refused to create the deployment: ");
        decision.Summary.ShouldContain("409 (Conflict: Commit status checks failed for master.)");
        await WaitForWorkItemsDoneAsync(host);
        gitHub.RequestsTo("deployments").Count.ShouldBe(1);
    }

    [Fact]
    public async Task EvaluationsRacingForOneCommit_CreateOneDeployment()
    {
        gitHub.AddDeployment(Repo, Deployed, "production", PreviousPayload, "master", "success");
        gitHub.SetCombinedStatus(Repo, Sha, "success", (Context, "success"));
        gitHub.SetCompare(Repo, Deployed, Sha, "ahead", aheadBy: 1);
        // Every evaluation passes "not deployed yet" before the first creation lands: GitHub holds the
        // creation until all eight have compared (the last thing each asks before it claims the commit).
        HoldCreationUntilCompared(8);
        var host = await StartAsync();
        var evaluator = host.Services.GetRequiredService<AutoDeployEvaluator>();
        var commit = CommitEvent.From(WorkItemKinds.CommitStatusEvent, Fixtures.Read("status_success.json"))!;
        var settings = new AutoDeploySettings(["production"], [Context]);

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => evaluator.EvaluateAsync(commit, settings, null, CancellationToken.None))));

        gitHub.RequestsTo("deployments").ShouldHaveSingleItem();
        var decisions = results.SelectMany(r => r).ToList();
        decisions.Count(d => d.Outcome == AutoDeployOutcome.Deployed).ShouldBe(1);
        decisions.Where(d => d.Outcome != AutoDeployOutcome.Deployed).ShouldAllBe(d => d.Summary == "skipped: 1333c01 is being deployed to production by another evaluation");
    }

    [PostgresFact]
    public async Task TwoNodesOnPostgres_EvaluatingOneCommitAtOnce_CreateOneDeployment()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        gitHub.AddDeployment(Repo, Deployed, "production", PreviousPayload, "master", "success");
        gitHub.SetCombinedStatus(Repo, Sha, "success", (Context, "success"));
        gitHub.SetCompare(Repo, Deployed, Sha, "ahead", aheadBy: 1);
        HoldCreationUntilCompared(2);
        var onPostgres = new Dictionary<string, string?> { ["Database:Provider"] = "Postgres", ["Database:ConnectionString"] = database.ConnectionString };
        var first = await StartAsync(onPostgres);
        var second = await StartAsync(onPostgres);

        // Two contexts' events for the same commit, one delivered to each node.
        var other = JsonNode.Parse(Fixtures.Read("status_success.json"))!;
        other["context"] = "coverage";
        await Task.WhenAll(SendStatusAsync(first, Fixtures.Read("status_success.json")), SendStatusAsync(second, other.ToJsonString()));

        var decisions = await WaitForDecisionsAsync(first, 2);
        gitHub.RequestsTo("deployments").ShouldHaveSingleItem();
        decisions.Count(d => d.Outcome == AutoDeployOutcome.Deployed).ShouldBe(1);
        decisions.Single(d => d.Outcome != AutoDeployOutcome.Deployed).Summary.ShouldBeOneOf(
            "skipped: 1333c01 is being deployed to production by another evaluation",
            $"skipped: 1333c01 was already deployed to production (deployment {gitHub.CreatedDeployments.Single()["id"]})");
    }

    [Fact]
    public async Task TheDecisionLog_IsShownByTheCommandLine()
    {
        var host = await StartAsync();
        await SendStatusAsync(host, Fixtures.Read("status_pending.json"));
        await WaitForDecisionsAsync(host, 1);
        var environment = new Dictionary<string, string>
        {
            ["HEAVEN_DATA_DIR"] = host.DataDirectory,
            ["GITHUB_WEBHOOK_SECRET"] = HeavenTestHost.Secret,
            ["Repositories__atmos__my-robot__AutoDeploy__Environments"] = "production",
            ["Repositories__atmos__my-robot__AutoDeploy__Contexts"] = Context,
        };

        var (exit, output, error) = await HeavenProcess.RunAsync(environment, "autodeploy-log", "atmos/my-robot");

        exit.ShouldBe(0, error);
        output.ShouldContain("Auto-deploy for atmos/my-robot: production when Janky (github) is green.");
        // One row, its cells in the table's columns.
        output.ShouldMatch(@"(?m)^\S.*\b1333c01\s+production\s+status Janky \(github\) pending\s+skipped: context Janky \(github\) is pending\s*$");
        var (offExit, offOutput, _) = await HeavenProcess.RunAsync(new Dictionary<string, string> { ["HEAVEN_DATA_DIR"] = host.DataDirectory, ["GITHUB_WEBHOOK_SECRET"] = HeavenTestHost.Secret }, "autodeploy-log", "octo/other");
        offExit.ShouldBe(0);
        offOutput.ShouldContain("Auto-deploy is off for octo/other: set Repositories:octo/other:AutoDeploy:Environments to turn it on.");
        offOutput.ShouldContain("No auto-deploy decisions recorded yet.");
    }

    [Theory]
    [InlineData("Contexts", "ci", "Repositories:atmos/my-robot:AutoDeploy:Environments is empty")]
    [InlineData("Branch", "main", "Repositories:atmos/my-robot:AutoDeploy:Branch is not an auto-deploy setting")]
    public async Task AnAutoDeploySectionThatCannotWork_StopsHeavenAtStart(string key, string value, string expected)
    {
        var settings = new Dictionary<string, string?> { [$"Repositories:{Repo}:AutoDeploy:{key}"] = value };
        if (key != "Contexts")
        {
            settings[$"Repositories:{Repo}:AutoDeploy:Environments"] = "production";
        }

        var failure = await Should.ThrowAsync<Exception>(() => HeavenTestHost.StartAsync(settings));

        failure.ToString().ShouldContain(expected);
    }

    private async Task<HeavenTestHost> StartAsync(Dictionary<string, string?>? settings = null, bool configureRepository = true)
    {
        var all = new Dictionary<string, string?>
        {
            ["GitHub:ApiUrl"] = gitHub.ApiUrl,
            ["GitHub:Token"] = "auto-deploy-test-token",
            ["AutoDeploy:Delivery:PollInterval"] = "00:00:00.05",
            ["AutoDeploy:Delivery:RetryBase"] = "00:00:00.05",
            ["GitHub:StatusDelivery:PollInterval"] = "00:00:00.05",
        };
        if (configureRepository)
        {
            all[$"Repositories:{Repo}:AutoDeploy:Environments"] = "production";
            all[$"Repositories:{Repo}:AutoDeploy:Contexts"] = Context;
        }

        foreach (var (key, value) in settings ?? [])
        {
            all[key] = value;
        }

        var host = await HeavenTestHost.StartAsync(all);
        hosts.Add(host);
        return host;
    }

    private static async Task SendStatusAsync(HeavenTestHost host, string body)
    {
        using var response = await host.SendWebhookAsync("status", body);
        ((int)response.StatusCode).ShouldBe(202, await response.Content.ReadAsStringAsync());
    }

    private static async Task SendCheckSuiteAsync(HeavenTestHost host, string action, string branch)
    {
        var repository = JsonNode.Parse(Fixtures.Read("status_success.json"))!["repository"]!.DeepClone();
        var body = new JsonObject
        {
            ["action"] = action,
            ["check_suite"] = new JsonObject
            {
                ["id"] = 118578147,
                ["head_branch"] = branch,
                ["head_sha"] = Sha,
                ["status"] = action == "completed" ? "completed" : "queued",
                ["conclusion"] = action == "completed" ? "success" : null,
                ["app"] = new JsonObject { ["slug"] = "github-actions", ["name"] = "GitHub Actions" },
            },
            ["repository"] = repository,
            ["sender"] = new JsonObject { ["login"] = "atmos" },
        };
        using var response = await host.SendWebhookAsync("check_suite", body.ToJsonString());
        ((int)response.StatusCode).ShouldBe(202, await response.Content.ReadAsStringAsync());
    }

    private static async Task<List<AutoDeployDecision>> DecisionsAsync(HeavenTestHost host)
    {
        await using var db = await host.Services.GetRequiredService<IHeavenDatabase>().OpenAsync(CancellationToken.None);
        return await db.AutoDeployDecisions.AsNoTracking().OrderBy(d => d.Id).ToListAsync();
    }

    /// <summary>Waits for at least <paramref name="count"/> final decisions (none still being created).</summary>
    private static Task<List<AutoDeployDecision>> WaitForDecisionsAsync(HeavenTestHost host, int count) =>
        Poll.ForAsync(
            () => DecisionsAsync(host),
            decisions => decisions.Count >= count && decisions.All(d => d.Outcome != AutoDeployOutcome.Deploying),
            $"{count} final auto-deploy decisions",
            describe: decisions => "Decisions: " + string.Join("; ", decisions.Select(d => d.Summary)));

    private static Task WaitForWorkItemsDoneAsync(HeavenTestHost host) =>
        Poll.UntilAsync(
            () => host.QueryAsync(async db =>
                await db.WorkItems.AnyAsync(w => w.Kind == WorkItemKinds.CommitStatusEvent || w.Kind == WorkItemKinds.CheckSuiteEvent)
                && !await db.WorkItems.AnyAsync(w => (w.Kind == WorkItemKinds.CommitStatusEvent || w.Kind == WorkItemKinds.CheckSuiteEvent) && w.State == WorkItemState.Pending)),
            "every commit event to be evaluated",
            state: async () => string.Join("; ", (await host.QueryAsync(db => db.WorkItems.AsNoTracking().ToListAsync())).Select(w => $"{w.Kind} {w.State} attempts={w.Attempts}")));

    /// <summary>
    /// GitHub answers deployment creations only once <paramref name="evaluations"/> compare requests
    /// arrived (or after a minute, so a broken test fails on its assertions instead of hanging).
    /// </summary>
    private void HoldCreationUntilCompared(int evaluations) =>
        gitHub.Hold(
            "deployments",
            Poll.UntilAsync(() => gitHub.RequestsTo("compare").Count >= evaluations, $"{evaluations} compare requests", TimeSpan.FromMinutes(1))
                .ContinueWith(_ => { }, TaskScheduler.Default));
}
