using System.Net;
using System.Text.Json.Nodes;
using Heaven.Intake;
using Heaven.Operations;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Operations;

/// <summary>Redeploy, rollback, deploy a commit, cancel, lock, redeliver: what GitHub is asked and what comes of it.</summary>
public sealed class DeploymentActionsTests : IDisposable
{
    private readonly TestRepository repository = new("octo/app");

    public void Dispose() => repository.Dispose();

    private static DeploymentActions Actions(DeployHarness harness) => harness.Host.Services.GetRequiredService<DeploymentActions>();

    private static DeploymentQueries Queries(DeployHarness harness) => harness.Host.Services.GetRequiredService<DeploymentQueries>();

    private async Task<long> DeploySuccessfullyAsync(DeployHarness harness, string sha, string creator = "alice")
    {
        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, creator: creator);
        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");
        return heavenId;
    }

    /// <summary>Sends the webhook GitHub sends for the deployment Heaven created, and waits for its outcome.</summary>
    private async Task<string> RunCreatedAsync(DeployHarness harness, JsonObject created)
    {
        var (body, gitHubId) = DeploymentWebhook.ForCreated(repository, created);
        var response = await harness.Host.SendWebhookAsync("deployment", body);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State;
    }

    [Fact]
    public async Task Redeploy_AsksGitHubForTheSameCommitEnvironmentTaskAndPayload_NamingWhoAsked_AndTheWebhookBackRunsIt()
    {
        await using var harness = await DeployHarness.StartAsync();
        var sha = repository.CommitDeployScript("echo deployed");
        var heavenId = await DeploySuccessfullyAsync(harness, sha);

        var result = await Actions(harness).RedeployAsync(heavenId, "bob", CancellationToken.None);

        result.Status.ShouldBe(ActionStatus.Done, result.Message);
        var created = harness.GitHub.CreatedDeployments.ShouldHaveSingleItem();
        var request = created["request"]!.AsObject();
        ((string?)request["ref"]).ShouldBe(sha);
        ((string?)request["environment"]).ShouldBe("production");
        ((string?)request["task"]).ShouldBe("deploy");
        ((string?)request["description"]).ShouldBe($"Redeploy {sha[..7]} by bob");
        ((bool?)request["auto_merge"]).ShouldBe(false);
        request["required_contexts"]!.AsArray().Count.ShouldBe(0);
        var payload = request["payload"]!.AsObject();
        ((string?)payload["config"]!["provider"]).ShouldBe("shell");
        ((string?)payload["config"]!["deploy_script"]).ShouldBe("script/deploy");
        ((string?)payload["notify"]!["room"]).ShouldBe("ops");
        ((string?)payload["notify"]!["user"]).ShouldBe("bob");
        result.GitHubDeploymentId.ShouldBe((long?)created["id"]);

        (await RunCreatedAsync(harness, created)).ShouldBe("success");
        var rerun = await Queries(harness).FindByGitHubIdAsync(result.GitHubDeploymentId!.Value, CancellationToken.None);
        // GitHub has the final status; the outbox marks it delivered once GitHub's answer is back.
        var detail = (await Poll.ForAsync(
            () => Queries(harness).GetAsync(rerun!.Value, CancellationToken.None),
            d => d is not null && d.Statuses.Count == 2 && d.Statuses.All(s => s.Delivered),
            "both statuses of the redeployment marked delivered"))!;
        (detail.Deployment.Sha, detail.Deployment.State, detail.Deployment.Creator).ShouldBe((sha, "success", "bob"));
        detail.Statuses.Select(s => s.State).ShouldBe(["in_progress", "success"]);
    }

    [Fact]
    public async Task Rollback_DeploysTheLastSuccessfulEarlierCommit_OrSaysThereIsNothingToRollBackTo()
    {
        await using var harness = await DeployHarness.StartAsync();
        var first = repository.CommitDeployScript("echo first");

        (await Actions(harness).RollbackAsync("octo/app", "production", "bob", CancellationToken.None)).Status.ShouldBe(ActionStatus.Conflict);
        await DeploySuccessfullyAsync(harness, first);
        var nothing = await Actions(harness).RollbackAsync("octo/app", "production", "bob", CancellationToken.None);
        (nothing.Status, nothing.Message).ShouldBe((ActionStatus.Conflict, $"Nothing to roll back to: no earlier successful deployment of octo/app to production deployed another commit than {first[..7]}."));
        harness.GitHub.CreatedDeployments.ShouldBeEmpty();

        var second = repository.CommitDeployScript("echo second");
        await DeploySuccessfullyAsync(harness, second);
        // Deployed twice: the rollback still goes to the commit before it.
        await DeploySuccessfullyAsync(harness, second);

        var result = await Actions(harness).RollbackAsync("octo/app", "production", "carol", CancellationToken.None);

        result.Status.ShouldBe(ActionStatus.Done, result.Message);
        var created = harness.GitHub.CreatedDeployments.ShouldHaveSingleItem();
        var request = created["request"]!.AsObject();
        ((string?)request["ref"]).ShouldBe(first);
        ((string?)request["description"]).ShouldBe($"Rollback to {first[..7]}");
        ((string?)request["environment"]).ShouldBe("production");
        ((string?)request["task"]).ShouldBe("deploy");
        ((bool?)request["auto_merge"]).ShouldBe(false);
        request["required_contexts"]!.AsArray().Count.ShouldBe(0);
        ((string?)request["payload"]!["notify"]!["user"]).ShouldBe("carol");

        (await RunCreatedAsync(harness, created)).ShouldBe("success");
        var environment = (await Queries(harness).DashboardAsync(CancellationToken.None)).Repositories.Single().Environments.Single();
        (environment.Current!.Sha, environment.Current.Creator).ShouldBe((first, "carol"));
    }

    [Fact]
    public async Task DeployCommit_TakesOnlyAFullSha_AndCopiesTheEnvironmentsTaskAndPayload()
    {
        await using var harness = await DeployHarness.StartAsync();
        var first = repository.CommitDeployScript("echo first");
        var second = repository.CommitDeployScript("echo second");

        (await Actions(harness).DeployCommitAsync("octo/app", "production", second, "bob", CancellationToken.None)).Status.ShouldBe(ActionStatus.Conflict);
        await DeploySuccessfullyAsync(harness, first);
        var invalid = await Actions(harness).DeployCommitAsync("octo/app", "production", second[..12], "bob", CancellationToken.None);
        (invalid.Status, invalid.Message).ShouldBe((ActionStatus.Invalid, "A commit to deploy is named by its full sha: 40 hexadecimal characters."));
        harness.GitHub.CreatedDeployments.ShouldBeEmpty();

        var result = await Actions(harness).DeployCommitAsync("octo/app", "production", second.ToUpperInvariant(), "bob", CancellationToken.None);

        result.Status.ShouldBe(ActionStatus.Done, result.Message);
        var created = harness.GitHub.CreatedDeployments.ShouldHaveSingleItem();
        var request = created["request"]!.AsObject();
        ((string?)request["ref"]).ShouldBe(second);
        ((string?)request["description"]).ShouldBe($"Deploy {second[..7]} by bob");
        ((string?)request["payload"]!["config"]!["provider"]).ShouldBe("shell");
        ((bool?)request["auto_merge"]).ShouldBe(false);
        request["required_contexts"]!.AsArray().Count.ShouldBe(0);
        (await RunCreatedAsync(harness, created)).ShouldBe("success");
        (await harness.LogAsync((await Queries(harness).FindByGitHubIdAsync(result.GitHubDeploymentId!.Value, CancellationToken.None))!.Value)).ShouldContain("second");
    }

    [Fact]
    public async Task GitHubRefusing_IsAClearResult_WithoutTheToken()
    {
        await using var harness = await DeployHarness.StartAsync();
        var sha = repository.CommitDeployScript("echo deployed");
        var heavenId = await DeploySuccessfullyAsync(harness, sha);
        harness.GitHub.FailNext("deployments", 422, message: "Conflict: Commit status checks failed for main.");

        var result = await Actions(harness).RedeployAsync(heavenId, "bob", CancellationToken.None);

        result.Status.ShouldBe(ActionStatus.GitHubRefused);
        result.Message.ShouldContain("Commit status checks failed for main.");
        result.Message.ShouldNotContain(DeployHarness.Token);
        (await Actions(harness).RedeployAsync(heavenId + 1000, "bob", CancellationToken.None)).Status.ShouldBe(ActionStatus.NotFound);
    }

    [Fact]
    public async Task Cancel_EndsAQueuedDeployment_AndItsTimelineShowsTheStatus()
    {
        // Nothing runs: the deployment stays queued until it is cancelled.
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Deployments:MaxParallel"] = "0" });
        var host = harness.Host;
        var (body, gitHubId) = DeploymentWebhook.For(repository, new string('a', 40));
        (await host.SendWebhookAsync("deployment", body)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var actions = host.Services.GetRequiredService<DeploymentActions>();
        var id = (await host.Services.GetRequiredService<DeploymentQueries>().ListAsync(new DeploymentFilter(), CancellationToken.None)).Single().Id;

        var result = await actions.CancelAsync(id, "bob", CancellationToken.None);

        result.Status.ShouldBe(ActionStatus.Done);
        var detail = (await host.Services.GetRequiredService<DeploymentQueries>().GetAsync(id, CancellationToken.None))!;
        (detail.Deployment.State, detail.Deployment.CancelRequestedBy, detail.Deployment.Description).ShouldBe(("cancelled", "bob", "Cancelled by bob"));
        var status = detail.Statuses.ShouldHaveSingleItem();
        (status.State, status.Description).ShouldBe(("error", "Cancelled by bob"));
        await harness.GitHub.WaitForStatusAsync(s => s.DeploymentId == gitHubId);
        (await Poll.ForAsync(
            async () => (await host.Services.GetRequiredService<DeploymentQueries>().GetAsync(id, CancellationToken.None))!.Statuses.Single().Delivered,
            delivered => delivered,
            "the status delivered to GitHub")).ShouldBeTrue();
        (await actions.CancelAsync(id, "bob", CancellationToken.None)).Status.ShouldBe(ActionStatus.Conflict);
        (await actions.CancelAsync(id + 1, "bob", CancellationToken.None)).Status.ShouldBe(ActionStatus.NotFound);
    }

    [Fact]
    public async Task Lock_KeepsSomeoneElsesLock_AndUnlockRemovesIt()
    {
        await using var host = await HeavenTestHost.StartAsync();
        var actions = host.Services.GetRequiredService<DeploymentActions>();
        var until = new DateTimeOffset(2099, 1, 2, 3, 4, 0, TimeSpan.Zero);

        var locked = await actions.LockAsync("octo/app", "production", "release freeze", until, "alice", CancellationToken.None);
        var other = await actions.LockAsync("octo/app", "production", "mine now", null, "bob", CancellationToken.None);

        (locked.Status, locked.Message).ShouldBe((ActionStatus.Done, "octo/app locked on production by alice"));
        (other.Status, other.Message).ShouldBe((ActionStatus.Conflict, "octo/app is already locked on production by alice: release freeze"));
        var view = (await host.Services.GetRequiredService<ActivityQueries>().LocksAsync(CancellationToken.None)).ShouldHaveSingleItem();
        (view.LockedBy, view.Reason, view.ExpiresAt, view.Active).ShouldBe(("alice", "release freeze", (DateTimeOffset?)until, true));
        var environment = (await host.Services.GetRequiredService<DeploymentQueries>().DashboardAsync(CancellationToken.None)).Repositories.Single().Environments.Single();
        (environment.Environment, environment.Lock!.LockedBy).ShouldBe(("production", "alice"));

        (await actions.UnlockAsync("octo/app", "production", "bob", CancellationToken.None)).Message.ShouldBe("octo/app unlocked on production (it was locked by alice).");
        (await actions.UnlockAsync("octo/app", "production", "bob", CancellationToken.None)).Status.ShouldBe(ActionStatus.NotFound);
    }

    [Fact]
    public async Task Redeliver_RunsTheStoredBodyThroughTheIntakeAgain_AndDeploymentsAreStillRecordedOnce()
    {
        await using var host = await HeavenTestHost.StartAsync();
        var actions = host.Services.GetRequiredService<DeploymentActions>();
        var (body, gitHubId) = DeploymentWebhook.For(repository, new string('b', 40));
        (await host.SendWebhookAsync("deployment", body, deliveryId: "d-deploy")).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var status = new JsonObject
        {
            ["deployment_status"] = new JsonObject { ["id"] = 5, ["state"] = "success", ["description"] = "ok" },
            ["deployment"] = JsonNode.Parse(body)!["deployment"]!.DeepClone(),
            ["repository"] = JsonNode.Parse(body)!["repository"]!.DeepClone(),
        };
        (await host.SendWebhookAsync("deployment_status", status.ToJsonString(), deliveryId: "d-status")).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var again = await actions.RedeliverAsync("d-deploy", CancellationToken.None);
        var statusAgain = await actions.RedeliverAsync("d-status", CancellationToken.None);
        var unknown = await actions.RedeliverAsync("d-unknown", CancellationToken.None);

        (again.Status, again.Result).ShouldBe((RedeliveryStatus.Recorded, (DeliveryResult?)DeliveryResult.Duplicate));
        again.Message.ShouldContain($"GitHub deployment {gitHubId} of octo/app was already received as Heaven deployment");
        (statusAgain.Status, statusAgain.Result).ShouldBe((RedeliveryStatus.Recorded, (DeliveryResult?)DeliveryResult.Accepted));
        unknown.Status.ShouldBe(RedeliveryStatus.NotFound);
        (await host.QueryAsync(db => db.Deployments.CountAsync())).ShouldBe(1);
        (await host.QueryAsync(db => db.WorkItems.CountAsync(w => w.Kind == "deployment_status"))).ShouldBe(2);
        var deliveries = await host.Services.GetRequiredService<ActivityQueries>().DeliveriesAsync(10, CancellationToken.None);
        deliveries.Select(d => (d.Result, d.RedeliveryOf)).ShouldBe([("accepted", "d-status"), ("duplicate", "d-deploy"), ("accepted", null), ("accepted", null)]);
        deliveries.ShouldAllBe(d => d.CanRedeliver);
    }
}
