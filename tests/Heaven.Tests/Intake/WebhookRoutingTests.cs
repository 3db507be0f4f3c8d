using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Intake;
using Heaven.Model;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Tests.Intake;

/// <summary>The original Heaven's payloads are accepted and land where the next component looks for them.</summary>
public sealed class WebhookRoutingTests : IAsyncLifetime
{
    private HeavenTestHost host = null!;

    public async Task InitializeAsync() => host = await HeavenTestHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task DeploymentFixture_IsQueuedWithEverythingTheDeployNeeds()
    {
        var before = DateTime.UtcNow.AddSeconds(-1);

        var response = await host.SendWebhookAsync("deployment", Fixtures.Read("deployment.json"), deliveryId: "72d3162e-cc78-11e3-81ab-4c9367dc0958");

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var answer = await AnswerAsync(response);
        answer.GetProperty("result").GetString().ShouldBe("accepted");
        var id = answer.GetProperty("deployment").GetInt64();
        answer.GetProperty("message").GetString().ShouldBe($"GitHub deployment 1875476 of atmos/my-robot to production is queued as Heaven deployment {id}.");

        var row = await host.QueryAsync(db => db.Deployments.SingleAsync());
        row.Id.ShouldBe(id);
        row.State.ShouldBe(DeploymentState.Queued);
        row.GitHubDeploymentId.ShouldBe(1875476);
        row.Repository.ShouldBe("atmos/my-robot");
        row.CloneUrl.ShouldBe("https://github.com/atmos/my-robot.git");
        row.Ref.ShouldBe("heroku");
        row.Sha.ShouldBe("3c9f42c76ce057eaabc3762e3ec46dd830976963");
        row.Task.ShouldBe("deploy");
        row.Environment.ShouldBe("production");
        row.Description.ShouldBe("Deploying from hubot-deploy-v0.6.53");
        row.CreatorLogin.ShouldBe("atmos");
        row.DeliveryId.ShouldBe("72d3162e-cc78-11e3-81ab-4c9367dc0958");
        row.ReceivedAt.ShouldBeInRange(before, DateTime.UtcNow.AddSeconds(1));

        // The payload keeps its nested objects, exactly as hubot-deploy sent them.
        var payload = JsonNode.Parse(row.PayloadJson)!;
        payload["config"]!["provider"]!.GetValue<string>().ShouldBe("heroku");
        payload["config"]!["heroku_name"]!.GetValue<string>().ShouldBe("zero-fucks-hubot");
        payload["config"]!["environments"]!.AsArray().Select(e => e!.GetValue<string>()).ShouldBe(["production"]);
        payload["notify"]!["room"]!.GetValue<string>().ShouldBe("ops");
        payload["name"]!.GetValue<string>().ShouldBe("my-robot");

        var delivery = await host.QueryAsync(db => db.Deliveries.SingleAsync());
        delivery.Event.ShouldBe("deployment");
        delivery.Result.ShouldBe(DeliveryResult.Accepted);
        delivery.Repository.ShouldBe("atmos/my-robot");
        delivery.DeploymentId.ShouldBe(id);
    }

    [Fact]
    public async Task CapistranoFixture_KeepsItsTask()
    {
        var response = await host.SendWebhookAsync("deployment", Fixtures.Read("deployment-capistrano.json"));

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var row = await host.QueryAsync(db => db.Deployments.SingleAsync());
        (row.Repository, row.Task, row.Environment).ShouldBe(("example-org/example-repo", "deploy:migrations", "production"));
    }

    [Fact]
    public async Task TwoRepositoriesReusingOneDeploymentId_AreTwoDeployments()
    {
        // deployment.json and deployment_staging.json share GitHub id 1875476 but not the repository.
        (await host.SendWebhookAsync("deployment", Fixtures.Read("deployment.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await host.SendWebhookAsync("deployment", Fixtures.Read("deployment_staging.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var rows = await host.QueryAsync(db => db.Deployments.OrderBy(d => d.Id).ToListAsync());
        rows.Select(r => (r.Repository, r.Environment)).ShouldBe([("atmos/my-robot", "production"), ("atmos/heaven", "staging")]);
    }

    [Fact]
    public async Task DeploymentPayloadSentAsAString_IsStoredAsTheObjectItHolds()
    {
        var body = JsonNode.Parse(Fixtures.Read("deployment.json"))!;
        body["deployment"]!["payload"] = "{\"config\":{\"provider\":\"shell\",\"deploy_script\":\"script/deploy\"}}";
        body["deployment"]!.AsObject().Remove("task");

        (await host.SendWebhookAsync("deployment", body.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var row = await host.QueryAsync(db => db.Deployments.SingleAsync());
        JsonNode.Parse(row.PayloadJson)!["config"]!["deploy_script"]!.GetValue<string>().ShouldBe("script/deploy");
        row.Task.ShouldBe("deploy");
    }

    [Theory]
    [InlineData("deployment-pending.json", "pending")]
    [InlineData("deployment-success.json", "success")]
    [InlineData("deployment-failure.json", "failure")]
    public async Task DeploymentStatusFixtures_AreRecordedForNotifications(string fixture, string state)
    {
        var response = await host.SendWebhookAsync("deployment_status", Fixtures.Read(fixture));

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await AnswerAsync(response)).GetProperty("message").GetString().ShouldBe("The deployment_status event was recorded for notifications.");
        var item = await host.QueryAsync(db => db.WorkItems.SingleAsync());
        item.Kind.ShouldBe(WorkItemKinds.DeploymentStatusEvent);
        // With no chat service configured the notification sender completes it without sending.
        item.State.ShouldBeOneOf(WorkItemState.Pending, WorkItemState.Done);
        item.Repository.ShouldBe("atmos/my-robot");
        JsonNode.Parse(item.PayloadJson)!["deployment_status"]!["state"]!.GetValue<string>().ShouldBe(state);
        (await host.CountsAsync()).Deployments.ShouldBe(0);
    }

    [Theory]
    [InlineData("status_pending.json", "pending")]
    [InlineData("status_success.json", "success")]
    public async Task CommitStatusFixtures_AreRecordedForAutoDeploy(string fixture, string state)
    {
        var response = await host.SendWebhookAsync("status", Fixtures.Read(fixture));

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var item = await host.QueryAsync(db => db.WorkItems.SingleAsync());
        item.Kind.ShouldBe(WorkItemKinds.CommitStatusEvent);
        JsonNode.Parse(item.PayloadJson)!["state"]!.GetValue<string>().ShouldBe(state);
    }

    [Fact]
    public async Task CheckSuite_IsRecordedForAutoDeploy()
    {
        var body = """
            {"action":"completed","check_suite":{"id":5,"head_branch":"master","head_sha":"3c9f42c76ce057eaabc3762e3ec46dd830976963","status":"completed","conclusion":"success"},
             "repository":{"full_name":"atmos/my-robot","clone_url":"https://github.com/atmos/my-robot.git","default_branch":"master"}}
            """;

        var response = await host.SendWebhookAsync("check_suite", body);

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var item = await host.QueryAsync(db => db.WorkItems.SingleAsync());
        item.Kind.ShouldBe(WorkItemKinds.CheckSuiteEvent);
        var delivery = await host.QueryAsync(db => db.Deliveries.SingleAsync());
        delivery.Action.ShouldBe("completed");
    }

    [Fact]
    public async Task PingFixture_Answers200AndRecordsTheHook()
    {
        var response = await host.SendWebhookAsync("ping", Fixtures.Read("ping.json"));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await AnswerAsync(response)).GetProperty("message").GetString().ShouldBe("pong: hook 1834813 is recorded as seen.");
        var hook = await host.QueryAsync(db => db.Hooks.SingleAsync());
        hook.HookId.ShouldBe(1834813);
    }

    [Fact]
    public async Task UnhandledEvent_Answers202IgnoredSoTheHookStaysGreen()
    {
        var response = await host.SendWebhookAsync("push", """{"ref":"refs/heads/master","repository":{"full_name":"atmos/my-robot"}}""");

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var answer = await AnswerAsync(response);
        answer.GetProperty("result").GetString().ShouldBe("ignored");
        answer.GetProperty("message").GetString().ShouldBe("Heaven does not act on 'push' events; ignored.");
        var counts = await host.CountsAsync();
        (counts.Deployments, counts.WorkItems).ShouldBe((0, 0));
        (await host.QueryAsync(db => db.Deliveries.SingleAsync())).Result.ShouldBe(DeliveryResult.Ignored);
    }

    [Theory]
    [InlineData("octodeploy", "provider 'octodeploy' is not one of Heaven's")]
    [InlineData(null, "the deployment names no payload.config.provider")]
    public async Task ADeploymentForAnotherDeploymentSystem_IsAnsweredIgnored_NotQueued(string? provider, string reason)
    {
        var payload = JsonNode.Parse(Fixtures.Read("deployment.json"))!;
        var config = payload["deployment"]!["payload"]!["config"]!.AsObject();
        config.Remove("provider");
        if (provider is not null)
        {
            config["provider"] = provider;
        }

        var response = await host.SendWebhookAsync("deployment", payload.ToJsonString());

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var answer = await AnswerAsync(response);
        answer.GetProperty("result").GetString().ShouldBe("ignored");
        var id = answer.GetProperty("deployment").GetInt64();
        answer.GetProperty("message").GetString().ShouldBe(
            $"GitHub deployment 1875476 of atmos/my-robot to production is ignored: {reason}, so another deployment system may own it. Heaven posts no status for it (recorded as Heaven deployment {id}).");
        var delivery = await host.QueryAsync(db => db.Deliveries.SingleAsync());
        (delivery.Result, delivery.DeploymentId).ShouldBe((DeliveryResult.Ignored, id));
    }

    private static async Task<JsonElement> AnswerAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
}
