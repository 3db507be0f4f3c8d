using System.Net;
using System.Text.Json.Nodes;
using Heaven.Model;
using Heaven.Operations;
using Heaven.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Operations;

/// <summary>The lists, the dashboard, an environment's history and its undeployed commits, from rows as the engine leaves them.</summary>
public sealed class DeploymentQueriesTests
{
    private static readonly DateTime Start = new(2026, 3, 1, 12, 0, 0, DateTimeKind.Utc);
    private static long nextGitHubId = 70_000;

    private static string Sha(char c) => new(c, 40);

    private static DeploymentRecord Row(string repository, string environment, string sha, DeploymentState state, int minute, string? provider = "shell", string task = "deploy", string user = "alice")
    {
        var app = repository.Split('/')[1];
        return new DeploymentRecord
        {
            GitHubDeploymentId = Interlocked.Increment(ref nextGitHubId),
            Repository = repository,
            CloneUrl = $"https://github.com/{repository}.git",
            Ref = "main",
            Sha = sha,
            Task = task,
            Environment = environment,
            PayloadJson = $$$"""{"config":{"provider":"shell"},"notify":{"room":"ops","user":"{{{user}}}"}}""",
            CreatorLogin = "hubot",
            DeliveryId = Guid.NewGuid().ToString(),
            ReceivedAt = Start.AddMinutes(minute),
            App = app,
            ExclusivityKey = ExclusivityKey.KeyOf(repository, app, environment),
            State = state,
            StateChangedAt = Start.AddMinutes(minute),
            StartedAt = state is DeploymentState.Queued ? null : Start.AddMinutes(minute + 1),
            FinishedAt = state is DeploymentState.Queued or DeploymentState.Running ? null : Start.AddMinutes(minute + 2),
            Provider = provider,
            StatusDescription = state == DeploymentState.Succeeded ? $"Deployed {sha[..8]} to {environment} in 1s" : null,
        };
    }

    private static async Task AddAsync(HeavenTestHost host, params DeploymentRecord[] rows) =>
        await host.QueryAsync(async db =>
        {
            db.Deployments.AddRange(rows);
            return await db.SaveChangesAsync();
        });

    [Fact]
    public async Task List_IsNewestFirst_FilteredAndPaged_InTheApisWords()
    {
        await using var host = await HeavenTestHost.StartAsync();
        await AddAsync(host,
            Row("octo/app", "production", Sha('1'), DeploymentState.Succeeded, 0),
            Row("octo/app", "staging", Sha('2'), DeploymentState.Failed, 10),
            Row("octo/app", "production", Sha('3'), DeploymentState.Errored, 20, user: "bob"),
            Row("octo/other", "production", Sha('4'), DeploymentState.Queued, 30));
        var queries = host.Services.GetRequiredService<DeploymentQueries>();

        var all = await queries.ListAsync(new DeploymentFilter(), CancellationToken.None);
        var firstPage = await queries.ListAsync(new DeploymentFilter { Repository = "octo/app", Limit = 2 }, CancellationToken.None);
        var secondPage = await queries.ListAsync(new DeploymentFilter { Repository = "octo/app", Limit = 2, BeforeId = firstPage[^1].Id }, CancellationToken.None);
        var production = await queries.ListAsync(new DeploymentFilter { Environment = "production", State = "error" }, CancellationToken.None);

        all.Select(d => (d.Sha[0], d.State)).ShouldBe([('4', "queued"), ('3', "error"), ('2', "failure"), ('1', "success")]);
        firstPage.Select(d => d.Sha[0]).ShouldBe(['3', '2']);
        secondPage.Select(d => d.Sha[0]).ShouldBe(['1']);
        var error = production.ShouldHaveSingleItem();
        (error.Creator, error.Provider, error.CreatedAt, error.StartedAt, error.FinishedAt)
            .ShouldBe(("bob", "shell", new DateTimeOffset(Start.AddMinutes(20)), (DateTimeOffset?)new DateTimeOffset(Start.AddMinutes(21)), (DateTimeOffset?)new DateTimeOffset(Start.AddMinutes(22))));
        error.CreatedAt.Offset.ShouldBe(TimeSpan.Zero);
        all[^1].Description.ShouldBe($"Deployed 11111111 to production in 1s");
        (await queries.FindByGitHubIdAsync(error.GitHubDeploymentId, CancellationToken.None)).ShouldBe(error.Id);
        (await queries.FindByGitHubIdAsync(1, CancellationToken.None)).ShouldBeNull();
        (await queries.GetAsync(999_999, CancellationToken.None)).ShouldBeNull();
        await Should.ThrowAsync<ArgumentException>(() => queries.ListAsync(new DeploymentFilter { Limit = 501 }, CancellationToken.None));
        (await Should.ThrowAsync<ArgumentException>(() => queries.ListAsync(new DeploymentFilter { State = "done" }, CancellationToken.None))).Message.ShouldStartWith("'done' is not a state");
    }

    [Fact]
    public async Task Dashboard_ShowsWhatIsDeployedRunningAndWaiting_PerEnvironment_WithLocksAndConfiguredRepositories()
    {
        await using var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?> { ["Repositories:octo/configured:Environments:0"] = "staging" });
        await AddAsync(host,
            Row("octo/app", "production", Sha('1'), DeploymentState.Succeeded, 0, user: "alice"),
            Row("octo/app", "production", Sha('2'), DeploymentState.Failed, 10),
            // A lock task succeeds but deploys nothing.
            Row("octo/app", "production", Sha('3'), DeploymentState.Succeeded, 20, provider: null, task: "deploy:lock"),
            Row("octo/app", "production", Sha('4'), DeploymentState.Running, 30, user: "bob"),
            Row("octo/app", "production", Sha('5'), DeploymentState.Queued, 40),
            Row("octo/app", "production", Sha('6'), DeploymentState.Queued, 50),
            Row("octo/app", "staging", Sha('7'), DeploymentState.Succeeded, 5));
        await host.Services.GetRequiredService<DeploymentActions>().LockAsync("octo/app", "production", "freeze", null, "carol", CancellationToken.None);

        var dashboard = await host.Services.GetRequiredService<DeploymentQueries>().DashboardAsync(CancellationToken.None);

        dashboard.Repositories.Select(r => (r.Repository, string.Join(",", r.Environments.Select(e => e.Environment))))
            .ShouldBe([("octo/app", "production,staging"), ("octo/configured", "staging")]);
        var production = dashboard.Repositories[0].Environments[0];
        (production.Current!.Sha, production.Current.Creator, production.Current.ShortSha).ShouldBe((Sha('1'), "alice", "1111111"));
        production.Latest!.Sha.ShouldBe(Sha('6'));
        (production.Running!.Sha, production.Running.StartedAt).ShouldBe((Sha('4'), (DateTimeOffset?)new DateTimeOffset(Start.AddMinutes(31))));
        production.Queued.ShouldBe(2);
        (production.Lock!.LockedBy, production.Lock.Reason).ShouldBe(("carol", "freeze"));
        var staging = dashboard.Repositories[0].Environments[1];
        (staging.Current!.Sha, staging.Running, staging.Queued, staging.Lock).ShouldBe((Sha('7'), (DeploymentSummary?)null, 0, (LockView?)null));
        var configured = dashboard.Repositories[1].Environments.Single();
        (configured.Current, configured.Latest).ShouldBe(((DeploymentSummary?)null, (DeploymentSummary?)null));
    }

    [Fact]
    public async Task WhoAsked_IsKeptAtIntake_AndTheDashboardAndListsShowIt()
    {
        await using var host = await HeavenTestHost.StartAsync();
        using var repository = new TestRepository("octo/intake");
        var (body, gitHubId) = DeploymentWebhook.For(repository, Sha('a'), creator: "carol");
        // hubot-deploy creates deployments as a bot on the chat user's behalf: the chat user is who asked.
        var webhook = JsonNode.Parse(body)!;
        webhook["deployment"]!["creator"]!["login"] = "hubot";
        var response = await host.SendWebhookAsync("deployment", webhook.ToJsonString());
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());

        var stored = await host.QueryAsync(db => db.Deployments.AsNoTracking().SingleAsync(d => d.GitHubDeploymentId == gitHubId));
        (stored.Deployer, stored.CreatorLogin).ShouldBe(("carol", "hubot"));
        // Read from its column, not the payload: without the payload's notify section it is still carol.
        await host.QueryAsync(db => db.Deployments.Where(d => d.Id == stored.Id)
            .ExecuteUpdateAsync(set => set.SetProperty(d => d.PayloadJson, """{"config":{"provider":"shell"}}""")));

        var queries = host.Services.GetRequiredService<DeploymentQueries>();
        var dashboard = await queries.DashboardAsync(CancellationToken.None);
        var production = dashboard.Repositories.ShouldHaveSingleItem().Environments.ShouldHaveSingleItem();
        (production.Latest!.Creator, production.Latest.Provider, production.Latest.State).ShouldBe(("carol", "shell", "queued"));
        (await queries.ListAsync(new DeploymentFilter(), CancellationToken.None)).ShouldHaveSingleItem().Creator.ShouldBe("carol");
        (await queries.GetAsync(stored.Id, CancellationToken.None))!.Deployment.Creator.ShouldBe("carol");
    }

    [Fact]
    public async Task EnvironmentHistory_IsPaged_AndNamesWhatIsDeployed()
    {
        await using var host = await HeavenTestHost.StartAsync();
        await AddAsync(host, Enumerable.Range(0, 5).Select(i => Row("octo/app", "production", Sha((char)('a' + i)), i == 1 ? DeploymentState.Succeeded : DeploymentState.Failed, i * 10)).ToArray());
        await AddAsync(host, Row("octo/app", "staging", Sha('9'), DeploymentState.Succeeded, 60));
        var queries = host.Services.GetRequiredService<DeploymentQueries>();

        var first = await queries.EnvironmentAsync("octo/app", "production", null, CancellationToken.None, limit: 3);
        var second = await queries.EnvironmentAsync("octo/app", "production", first.NextBeforeId, CancellationToken.None, limit: 3);

        first.Deployments.Select(d => d.Sha[0]).ShouldBe(['e', 'd', 'c']);
        first.Current!.Sha.ShouldBe(Sha('b'));
        second.Deployments.Select(d => d.Sha[0]).ShouldBe(['b', 'a']);
        second.NextBeforeId.ShouldBeNull();
    }

    [Fact]
    public async Task UndeployedCommits_AreTheDefaultBranchsCommitsAfterTheDeployedOne_WithTheirChecks()
    {
        await using var gitHub = await FakeGitHub.StartAsync();
        await using var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["GitHub:ApiUrl"] = gitHub.ApiUrl,
            ["GitHub:WebUrl"] = gitHub.ApiUrl,
            ["GitHub:Token"] = DeployHarness.Token,
        });
        await AddAsync(host, Row("octo/app", "production", Sha('1'), DeploymentState.Succeeded, 0));
        gitHub.SetDefaultBranch("octo/app", "trunk");
        gitHub.SetCompare("octo/app", Sha('1'), "trunk", "ahead", 2, 0, new FakeCommit(Sha('2'), "Fix the login", "alice"), new FakeCommit(Sha('3'), "Add the dashboard", "bob"));
        gitHub.SetCombinedStatus("octo/app", Sha('2'), "success", ("ci/test", "success"));
        gitHub.SetCombinedStatus("octo/app", Sha('3'), "pending", ("ci/test", "pending"));
        gitHub.SetCheckRuns("octo/app", Sha('3'), new FakeCheckRun("build", "in_progress", null));
        var queries = host.Services.GetRequiredService<DeploymentQueries>();

        var undeployed = await queries.UndeployedCommitsAsync("octo/app", "production", CancellationToken.None);
        var nothingDeployed = await queries.UndeployedCommitsAsync("octo/app", "staging", CancellationToken.None);

        (undeployed.DefaultBranch, undeployed.DeployedSha, undeployed.HeadSha, undeployed.TotalCommits).ShouldBe(("trunk", Sha('1'), Sha('3'), 2));
        undeployed.Commits.Select(c => (c.Sha[0], c.Message, c.Author, c.CombinedState)).ShouldBe([('2', "Fix the login", "alice", "success"), ('3', "Add the dashboard", "bob", "pending")]);
        undeployed.Commits[1].CheckRuns.Select(r => (r.Name, r.Status)).ShouldBe([("build", "in_progress")]);
        undeployed.Commits[0].Statuses.Select(s => (s.Context, s.State)).ShouldBe([("ci/test", "success")]);
        (nothingDeployed.DeployedSha, nothingDeployed.Commits.Count).ShouldBe(((string?)null, 0));
    }
}
