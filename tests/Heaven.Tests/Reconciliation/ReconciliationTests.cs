using System.Net;
using System.Text.Json.Nodes;
using Heaven.Configuration;
using Heaven.Intake;
using Heaven.Reconciliation;
using Heaven.Tests.Infrastructure;
using Heaven.Tests.Notifications;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Heaven.Tests.Reconciliation;

/// <summary>
/// GitHub never redelivers a failed webhook: reconciliation finds on GitHub what no webhook brought and
/// takes it in as the webhook would have been, once, whatever arrives later.
/// </summary>
public sealed class ReconciliationTests : IAsyncLifetime
{
    private const string Repository = "octo/app";

    private readonly TestRepository repository = new(Repository);
    private FakeGitHub gitHub = null!;
    private FakeChat chat = null!;
    private readonly List<IAsyncDisposable> hosts = [];

    public async Task InitializeAsync()
    {
        gitHub = await FakeGitHub.StartAsync();
        gitHub.SetCloneUrl(Repository, repository.CloneUrl);
        chat = await FakeChat.StartAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var host in hosts)
        {
            await host.DisposeAsync();
        }

        await gitHub.DisposeAsync();
        await chat.DisposeAsync();
        repository.Dispose();
    }

    [Fact]
    public async Task ADeploymentWhoseWebhookNeverCame_IsRunByReconciliation_AndTheLateWebhookIsADuplicate()
    {
        var harness = await StartDeployingAsync();
        var sha = repository.CommitDeployScript("echo deployed without a webhook");
        var id = gitHub.AddDeployment(Repository, sha, "production", ShellPayload(), "master");
        await KnowTheRepositoryAsync(harness.Host);

        var report = await ReconcileAsync(harness.Host);

        var final = await harness.WaitForFinalStatusAsync(repository, id);
        final.State.ShouldBe("success");
        var story = harness.Story(repository, id);
        story.Count.ShouldBe(2);
        story[0].ShouldBe($"in_progress: Deploying {sha[..8]} to production");
        story[1].ShouldMatch($"^success: Deployed {sha[..8]} to production in \\d+s$");
        var taken = report.Decisions.ShouldHaveSingleItem();
        (taken.Kind, taken.GitHubId, taken.Result).ShouldBe(("deployment", id, DeliveryResult.Accepted));
        var logged = await harness.Host.QueryAsync(db => db.Deliveries.SingleAsync(d => d.DeliveryId == $"reconciled-deployment-{id}"));
        (logged.Event, logged.Repository, logged.Result).ShouldBe(("deployment", Repository, DeliveryResult.Accepted));
        logged.Message.ShouldStartWith($"reconciled (no webhook arrived): GitHub deployment {id} of {Repository} to production is queued as Heaven deployment ");

        var (late, _) = DeploymentWebhook.For(repository, sha, reference: "master", gitHubId: id);
        var answer = await harness.Host.SendWebhookAsync("deployment", late);

        answer.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await answer.Content.ReadAsStringAsync()).ShouldContain("\"result\":\"duplicate\"");
        (await harness.Host.QueryAsync(db => db.Deployments.CountAsync(d => d.GitHubDeploymentId == id))).ShouldBe(1);
        // A second pass takes no deployment in again; only Heaven's own two statuses, whose
        // deployment_status webhooks this test never sends, go to the notifiers.
        (await ReconcileAsync(harness.Host)).Decisions.Select(d => d.Kind).ShouldBe(["deployment_status", "deployment_status"]);
        (await harness.Host.QueryAsync(db => db.Deployments.CountAsync(d => d.GitHubDeploymentId == id))).ShouldBe(1);
        harness.Story(repository, id).Count.ShouldBe(2);
    }

    [Fact]
    public async Task ADeploymentWhoseWebhookCameFirst_IsNotTakenInAgain()
    {
        var host = await StartAsync();
        var sha = repository.CommitDeployScript("echo hi");
        var id = gitHub.AddDeployment(Repository, sha, "production", ShellPayload(), "master");
        var (body, _) = DeploymentWebhook.For(repository, sha, reference: "master", gitHubId: id);
        (await host.SendWebhookAsync("deployment", body)).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var report = await ReconcileAsync(host);

        report.Decisions.ShouldBeEmpty();
        (await host.QueryAsync(db => db.Deployments.CountAsync(d => d.GitHubDeploymentId == id))).ShouldBe(1);
        (await host.QueryAsync(db => db.Deliveries.CountAsync(d => d.DeliveryId.StartsWith("reconciled-")))).ShouldBe(0);
    }

    [Fact]
    public async Task ADeploymentForAnotherDeploymentSystem_IsLeftAlone_WithoutAskingForItsStatuses()
    {
        var host = await StartAsync();
        await KnowTheRepositoryAsync(host);
        var id = gitHub.AddDeployment(Repository, new string('b', 40), "production", new JsonObject { ["config"] = new JsonObject { ["provider"] = "octodeploy" } });

        var report = await ReconcileAsync(host);

        var skipped = report.Decisions.ShouldHaveSingleItem();
        (skipped.GitHubId, skipped.Result).ShouldBe((id, (DeliveryResult?)null));
        skipped.Reason.ShouldBe("provider 'octodeploy' is not one of Heaven's; another deployment system may own it");
        (await host.QueryAsync(db => db.Deployments.CountAsync())).ShouldBe(0);
        gitHub.RequestsTo("statuses-list").ShouldBeEmpty();
        gitHub.Statuses.ShouldBeEmpty();
    }

    [Fact]
    public async Task ADeploymentSomeoneElseAlreadyReportedOn_IsLeftAlone()
    {
        var host = await StartAsync();
        await KnowTheRepositoryAsync(host);
        var id = gitHub.AddDeployment(Repository, new string('c', 40), "production", ShellPayload());
        gitHub.AddStatus(Repository, id, "in_progress", creator: "someone-else");

        var report = await ReconcileAsync(host);

        var skipped = report.Decisions.ShouldHaveSingleItem();
        (skipped.GitHubId, skipped.Result).ShouldBe((id, (DeliveryResult?)null));
        skipped.Reason.ShouldBe("it already has a status (in_progress from someone-else): some other system or person is handling it");
        (await host.QueryAsync(db => db.Deployments.CountAsync())).ShouldBe(0);
    }

    [Fact]
    public async Task AnIdleSecondPass_AsksWithTheETags_AndGetsOnly304s()
    {
        var host = await StartAsync();
        var id = gitHub.AddDeployment(Repository, new string('d', 40), "production", ShellPayload());
        var (body, _) = DeploymentWebhook.For(repository, new string('d', 40), gitHubId: id);
        (await host.SendWebhookAsync("deployment", body)).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        await ReconcileAsync(host);
        var first = gitHub.Requests.ToList();
        await ReconcileAsync(host);
        var second = gitHub.Requests.Skip(first.Count).ToList();

        var asked = new[] { $"/repos/{Repository}/deployments", $"/repos/{Repository}", $"/repos/{Repository}/deployments/{id}/statuses" };
        first.Select(r => r.Path).ShouldBe(asked);
        first.ShouldAllBe(r => r.Status == 200 && r.Header("If-None-Match") == null);
        second.Select(r => r.Path).ShouldBe(asked);
        second.ShouldAllBe(r => r.Status == 304);
        using var client = new HttpClient();
        foreach (var request in second)
        {
            // The ETag GitHub gives the same request now, which is the one the first pass was given.
            using var now = new HttpRequestMessage(HttpMethod.Get, gitHub.Root + request.RawPath + request.Query);
            var etag = (await client.SendAsync(now)).Headers.ETag!.ToString();
            request.Header("If-None-Match").ShouldBe(etag);
        }
    }

    [Fact]
    public async Task ABusyRepository_IsReadPageByPage_SoAMissedDeploymentOnTheSecondPageIsTakenIn_AndAnIdlePassCostsOnly304s()
    {
        var host = await StartAsync(new() { ["Reconciliation:LookBack"] = "86400" });
        await KnowTheRepositoryAsync(host);
        // The oldest of them.
        var missed = gitHub.AddDeployment(Repository, new string('e', 40), "production", ShellPayload());
        var others = Enumerable.Range(0, 149)
            .Select(_ => gitHub.AddDeployment(Repository, new string('f', 40), "production", new JsonObject { ["config"] = new JsonObject { ["provider"] = "octodeploy" } }))
            .ToList();

        var report = await ReconcileAsync(host);

        // 150 deployments in the look-back: the newest 100 on page 1, the missed one among the 50 on page 2.
        var taken = report.Decisions.Where(d => d.Result is not null).ShouldHaveSingleItem();
        (taken.Kind, taken.GitHubId, taken.Result).ShouldBe(("deployment", missed, DeliveryResult.Accepted));
        report.Decisions.Select(d => d.GitHubId).Order().ShouldBe(others.Append(missed).Order());
        (await host.QueryAsync(db => db.Deployments.SingleAsync())).GitHubDeploymentId.ShouldBe(missed);
        gitHub.RequestsTo("deployments-list").Select(r => r.Query).ShouldBe(["?per_page=100&page=1", "?per_page=100&page=2"]);

        var before = gitHub.RequestsTo("deployments-list").Count;
        (await ReconcileAsync(host)).Decisions.Where(d => d.Result is not null).ShouldBeEmpty();
        var again = gitHub.RequestsTo("deployments-list").Skip(before).ToList();
        again.Select(r => r.Query).ShouldBe(["?per_page=100&page=1", "?per_page=100&page=2"]);
        again.ShouldAllBe(r => r.Status == 304 && r.Header("If-None-Match") != null);
    }

    [Fact]
    public async Task APageEndingBeforeTheLookBack_IsTheLastOneRead()
    {
        var host = await StartAsync(new() { ["Reconciliation:LookBack"] = "86400" });
        await KnowTheRepositoryAsync(host);
        var octodeploy = new JsonObject { ["config"] = new JsonObject { ["provider"] = "octodeploy" } };
        // Two older than the look-back, then 99 in it: page 1 holds the 99 and one of the old ones.
        gitHub.AddDeployment(Repository, new string('f', 40), "production", octodeploy, "main", DateTimeOffset.UtcNow.AddDays(-3));
        gitHub.AddDeployment(Repository, new string('f', 40), "production", octodeploy, "main", DateTimeOffset.UtcNow.AddDays(-2));
        for (var i = 0; i < 99; i++)
        {
            gitHub.AddDeployment(Repository, new string('f', 40), "production", octodeploy);
        }

        var report = await ReconcileAsync(host);

        report.Decisions.Count.ShouldBe(99);
        gitHub.RequestsTo("deployments-list").Select(r => r.Query).ShouldBe(["?per_page=100&page=1"]);
    }

    [Fact]
    public async Task TwoNodesOnOneDatabase_ReconcileARepositoryOnceAnInterval_WhicheverComesFirst()
    {
        var host = await StartAsync();
        await KnowTheRepositoryAsync(host);
        gitHub.AddDeployment(Repository, new string('f', 40), "production", new JsonObject { ["config"] = new JsonObject { ["provider"] = "octodeploy" } });
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = Options.Create(new ReconciliationOptions { Interval = 300 });
        var nodeA = ActivatorUtilities.CreateInstance<Reconciler>(host.Services, options, clock, new NodeIdentity("node-a"));
        var nodeB = ActivatorUtilities.CreateInstance<Reconciler>(host.Services, options, clock, new NodeIdentity("node-b"));
        int Listings() => gitHub.RequestsTo("deployments-list").Count;

        (await nodeA.ReconcileAsync(CancellationToken.None)).Decisions.ShouldHaveSingleItem();
        Listings().ShouldBe(1);
        // The other node in the same interval: its turn was taken, so it asks GitHub nothing.
        (await nodeB.ReconcileAsync(CancellationToken.None)).Decisions.ShouldBeEmpty();
        Listings().ShouldBe(1);
        (await host.QueryAsync(db => db.ReconciliationTurns.SingleAsync())).Node.ShouldBe("node-a");

        // An interval later the repository is due again, for whichever node passes first.
        clock.Advance(TimeSpan.FromSeconds(300));
        (await nodeB.ReconcileAsync(CancellationToken.None)).Decisions.ShouldHaveSingleItem();
        Listings().ShouldBe(2);
        (await nodeA.ReconcileAsync(CancellationToken.None)).Decisions.ShouldBeEmpty();
        Listings().ShouldBe(2);
        (await host.QueryAsync(db => db.ReconciliationTurns.SingleAsync())).Node.ShouldBe("node-b");
    }

    [Fact]
    public async Task ADeploymentStatusMissedWhileDown_IsNotifiedOnce_AndItsLateWebhookNotifiesNobody()
    {
        var host = await StartAsync(new Dictionary<string, string?>
        {
            ["Notifications:Slack:WebhookUrl"] = chat.Url("/slack/T000/B000/XXXX"),
            ["Notifications:Delivery:PollInterval"] = "00:00:00.050",
        });
        var sha = new string('e', 40);
        var id = gitHub.AddDeployment(Repository, sha, "production", ShellPayload(), "master");
        var (body, _) = DeploymentWebhook.For(repository, sha, reference: "master", gitHubId: id);
        (await host.SendWebhookAsync("deployment", body)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        // One status whose webhook came, then one whose webhook was lost.
        var started = gitHub.AddStatus(Repository, id, "in_progress", creator: "heaven-bot");
        (await host.SendWebhookAsync("deployment_status", StatusEvent(id, started))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        await chat.WaitForAsync("/slack/", 1);
        var finished = gitHub.AddStatus(Repository, id, "success", creator: "heaven-bot");

        var report = await ReconcileAsync(host);

        var taken = report.Decisions.ShouldHaveSingleItem();
        (taken.Kind, taken.GitHubId, taken.Result).ShouldBe(("deployment_status", finished, DeliveryResult.Accepted));
        var messages = await chat.WaitForAsync("/slack/", 2);
        SlackText(messages[1]).ShouldStartWith("octocat deployed ");

        var late = await host.SendWebhookAsync("deployment_status", StatusEvent(id, finished));
        late.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await late.Content.ReadAsStringAsync()).ShouldContain($"Deployment status {finished} of {Repository} was already taken in by reconciliation");
        (await ReconcileAsync(host)).Decisions.ShouldBeEmpty();
        // The next status's message is the third: nothing was sent for the late webhook before it.
        var failed = gitHub.AddStatus(Repository, id, "failure", creator: "heaven-bot");
        (await host.SendWebhookAsync("deployment_status", StatusEvent(id, failed))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        messages = await chat.WaitForAsync("/slack/", 3);
        SlackText(messages[2]).ShouldStartWith("octocat failed to deploy ");
        (await host.QueryAsync(db => db.WorkItems.CountAsync(w => w.Kind == WorkItemKinds.DeploymentStatusEvent))).ShouldBe(3);
    }

    [Fact]
    public async Task TheLoop_PassesAtStartAndEveryInterval_OnItsClock()
    {
        var host = await StartAsync();
        await KnowTheRepositoryAsync(host);
        var clock = new TestClock(DateTimeOffset.UtcNow);
        var loop = Loop(host, interval: 300, clock);

        await loop.StartAsync(CancellationToken.None);
        try
        {
            await gitHub.WaitForRequestsAsync(r => r.Route == "deployments-list", 1, "the pass at start");
            (await clock.SleepingAsync("the reconciliation loop")).ShouldBe(TimeSpan.FromSeconds(300));
            clock.Advance(TimeSpan.FromSeconds(300));
            var asked = await gitHub.WaitForRequestsAsync(r => r.Route == "deployments-list", 2, "the pass an interval later");
            asked[1].Status.ShouldBe(304);
        }
        finally
        {
            await loop.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task IntervalZero_TurnsReconciliationOff()
    {
        var host = await StartAsync();
        await KnowTheRepositoryAsync(host);
        var clock = new TestClock(DateTimeOffset.UtcNow);
        var loop = Loop(host, interval: 0, clock);

        await loop.StartAsync(CancellationToken.None);

        // Ended, not asleep: an interval that is on keeps the loop running (the test above).
        await loop.ExecuteTask.ShouldNotBeNull().WaitAsync(TimeSpan.FromSeconds(30));
        clock.Pending.ShouldBeEmpty();
        // The host's own loop, started with the same setting, has ended too; neither asked GitHub anything.
        await host.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<ReconciliationLoop>().Single().ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(30));
        gitHub.Requests.ShouldBeEmpty();
    }

    private static JsonObject ShellPayload() => new()
    {
        ["config"] = new JsonObject { ["provider"] = "shell", ["deploy_script"] = "script/deploy" },
        ["notify"] = new JsonObject { ["room"] = "ops", ["user"] = "octocat", ["adapter"] = "slack" },
    };

    private static string SlackText(RecordedRequest request) =>
        JsonNode.Parse(request.Body)!["attachments"]![0]!["fallback"]!.GetValue<string>();

    /// <summary>The deployment_status webhook GitHub sends for a status the fake holds.</summary>
    private string StatusEvent(long deploymentId, long statusId) => new JsonObject
    {
        ["action"] = "created",
        ["deployment_status"] = gitHub.StatusJsonOf(statusId),
        ["deployment"] = gitHub.DeploymentJsonOf(deploymentId),
        ["repository"] = new JsonObject { ["full_name"] = Repository, ["html_url"] = $"https://github.com/{Repository}" },
        ["sender"] = new JsonObject { ["login"] = "heaven-bot" },
    }.ToJsonString();

    /// <summary>Heaven knows a repository once a webhook named it: a ping does.</summary>
    private static async Task KnowTheRepositoryAsync(HeavenTestHost host)
    {
        var ping = new JsonObject { ["zen"] = "Keep it logically awesome.", ["hook_id"] = 1, ["repository"] = new JsonObject { ["full_name"] = Repository } };
        (await host.SendWebhookAsync("ping", ping.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    private static Task<ReconciliationReport> ReconcileAsync(HeavenTestHost host) =>
        host.Services.GetRequiredService<Reconciler>().ReconcileAsync(CancellationToken.None);

    private static ReconciliationLoop Loop(HeavenTestHost host, int interval, TimeProvider clock) => new(
        host.Services.GetRequiredService<Reconciler>(),
        Options.Create(new ReconciliationOptions { Interval = interval }),
        clock,
        NullLogger<ReconciliationLoop>.Instance);

    /// <summary>Heaven with the deploy engine on; its own loop is off, so only the test starts passes.</summary>
    private async Task<DeployHarness> StartDeployingAsync()
    {
        var harness = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Reconciliation:Interval"] = "0" }, gitHub: gitHub);
        hosts.Add(harness);
        return harness;
    }

    /// <summary>Heaven with the deploy engine off (deployments stay queued, so no status of Heaven's interferes).</summary>
    private async Task<HeavenTestHost> StartAsync(Dictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["GitHub:ApiUrl"] = gitHub.ApiUrl,
            ["GitHub:Token"] = DeployHarness.Token,
            ["Reconciliation:Interval"] = "0",
        };
        foreach (var (key, value) in settings ?? [])
        {
            all[key] = value;
        }

        var host = await HeavenTestHost.StartAsync(all);
        hosts.Add(host);
        return host;
    }
}
