using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Heaven.Configuration;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Tests.Notifications;

/// <summary>deployment_status webhooks become chat messages, each service its own way, delivered through the outbox.</summary>
public sealed class NotificationTests : NotificationTestBase
{
    [Fact]
    public async Task Slack_GetsOneColouredAttachmentPerStatus()
    {
        var host = await StartAsync(Slack);

        await SendFixturesAsync(host);

        var bodies = (await Chat.WaitForAsync("/slack/", 3)).Select(r => JsonNode.Parse(r.Body)).ToList();
        bodies.Count.ShouldBe(3);
        ShouldEqual(bodies[0], new JsonObject
        {
            ["username"] = "Heaven",
            ["icon_emoji"] = ":rocket:",
            ["attachments"] = new JsonArray(new JsonObject
            {
                ["fallback"] = "atmos is deploying atmos/my-robot/break-up-notifiers (daf8192) to production. View log",
                ["color"] = "warning",
                ["text"] = $"atmos is deploying <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production. <{Log}|View log>",
                ["mrkdwn_in"] = new JsonArray("text"),
            }),
        });
        var success = bodies[1]!["attachments"]![0]!;
        success["color"]!.GetValue<string>().ShouldBe("good");
        success["text"]!.GetValue<string>().ShouldBe($"atmos deployed <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production. <{Log}|View log>");
        var failure = bodies[2]!["attachments"]![0]!;
        failure["color"]!.GetValue<string>().ShouldBe("danger");
        failure["text"]!.GetValue<string>().ShouldBe($"atmos failed to deploy <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production. <{Log}|View log>");
    }

    [Fact]
    public async Task Teams_GetsAMessageCardPerStatus()
    {
        var host = await StartAsync(Teams);

        await SendFixturesAsync(host);

        var bodies = (await Chat.WaitForAsync("/teams/", 3)).Select(r => JsonNode.Parse(r.Body)).ToList();
        bodies.Count.ShouldBe(3);
        ShouldEqual(bodies[0], new JsonObject
        {
            ["@type"] = "MessageCard",
            ["@context"] = "https://schema.org/extensions",
            ["themeColor"] = "DAA038",
            ["summary"] = "atmos is deploying atmos/my-robot/break-up-notifiers (daf8192) to production. View log",
            ["text"] = $"atmos is deploying [atmos/my-robot]({Repo})/[break-up-notifiers]({Tree}) ([daf8192]({Commit})) to production. [View log]({Log})",
        });
        bodies[1]!["themeColor"]!.GetValue<string>().ShouldBe("2EB886");
        bodies[1]!["text"]!.GetValue<string>().ShouldBe($"atmos deployed [atmos/my-robot]({Repo})/[break-up-notifiers]({Tree}) ([daf8192]({Commit})) to production. [View log]({Log})");
        bodies[2]!["themeColor"]!.GetValue<string>().ShouldBe("A30200");
        bodies[2]!["text"]!.GetValue<string>().ShouldBe($"atmos failed to deploy [atmos/my-robot]({Repo})/[break-up-notifiers]({Tree}) ([daf8192]({Commit})) to production. [View log]({Log})");
    }

    [Fact]
    public async Task Discord_GetsAnEmbedPerStatus_ThatMentionsNobody()
    {
        var host = await StartAsync(Discord);

        await SendFixturesAsync(host);

        var bodies = (await Chat.WaitForAsync("/discord/", 3)).Select(r => JsonNode.Parse(r.Body)).ToList();
        bodies.Count.ShouldBe(3);
        var texts = new[] { "atmos is deploying", "atmos deployed", "atmos failed to deploy" };
        var colours = new[] { 0xDAA038, 0x2EB886, 0xA30200 };
        for (var i = 0; i < 3; i++)
        {
            ShouldEqual(bodies[i], new JsonObject
            {
                ["embeds"] = new JsonArray(new JsonObject
                {
                    ["description"] = $"{texts[i]} [atmos/my-robot]({Repo})/[break-up-notifiers]({Tree}) ([daf8192]({Commit})) to production. [View log]({Log})",
                    ["color"] = colours[i],
                }),
                ["allowed_mentions"] = new JsonObject { ["parse"] = new JsonArray() },
            });
        }
    }

    [Fact]
    public async Task Webhook_GetsSignedJson()
    {
        var host = await StartAsync(Webhook);

        await SendFixturesAsync(host);

        var requests = await Chat.WaitForAsync("/hook", 3);
        requests.Count.ShouldBe(3);
        foreach (var request in requests)
        {
            var expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(WebhookSecret), Encoding.UTF8.GetBytes(request.Body)));
            request.Header("X-Heaven-Signature-256").ShouldBe(expected);
            request.Header("X-Heaven-Event").ShouldBe("deployment_status");
        }

        ShouldEqual(JsonNode.Parse(requests[2].Body), new JsonObject
        {
            ["event"] = "deployment_status",
            ["state"] = "failure",
            ["outcome"] = "failed",
            ["repository"] = "atmos/my-robot",
            ["ref"] = "break-up-notifiers",
            ["sha"] = "daf81923c94f7513ac840fa4fcc0dfcc11f32f74",
            ["environment"] = "production",
            ["user"] = "atmos",
            ["room"] = "danger",
            ["log_url"] = Log,
            ["description"] = "Deploying from Heaven v0.5.5",
            ["duration_seconds"] = null,
            ["text"] = "atmos failed to deploy atmos/my-robot/break-up-notifiers (daf8192) to production. View log",
        });
        requests.Select(r => JsonNode.Parse(r.Body)!["outcome"]!.GetValue<string>()).ShouldBe(["started", "succeeded", "failed"]);
    }

    [Fact]
    public async Task HipChat_UsesTheConfiguredServer_AndTheRoomToken()
    {
        var host = await StartAsync(HipChat);

        await SendFixturesAsync(host);

        var requests = await Chat.WaitForAsync("/hipchat/v2/room/ops/notification", 3);
        requests.Count.ShouldBe(3);
        requests.ShouldAllBe(r => r.Header("Authorization") == "Bearer hipchat-token");
        ShouldEqual(JsonNode.Parse(requests[1].Body), new JsonObject
        {
            ["message"] = $"atmos deployed <a href=\"{Repo}\">atmos/my-robot</a>/<a href=\"{Tree}\">break-up-notifiers</a> (<a href=\"{Commit}\">daf8192</a>) to production. <a href=\"{Log}\">View log</a>",
            ["message_format"] = "html",
            ["color"] = "green",
            ["notify"] = false,
        });
        requests.Select(r => JsonNode.Parse(r.Body)!["color"]!.GetValue<string>()).ShouldBe(["yellow", "green", "red"]);
    }

    [Theory]
    [InlineData("queued")]
    [InlineData("in_progress")]
    public async Task QueuedAndInProgress_ReadAsStarted_OnEveryService(string state)
    {
        var host = await StartAsync(Slack, Teams, Discord, Webhook, HipChat);
        var body = JsonNode.Parse(Fixtures.Read("deployment-pending.json"))!;
        body["deployment_status"]!["state"] = state;

        (await host.SendWebhookAsync("deployment_status", body.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        const string Started = "atmos is deploying atmos/my-robot/break-up-notifiers (daf8192) to production.";
        var slack = JsonNode.Parse((await Chat.WaitForAsync("/slack/", 1)).Single().Body)!["attachments"]![0]!;
        (slack["fallback"]!.GetValue<string>(), slack["color"]!.GetValue<string>()).ShouldBe(($"{Started} View log", "warning"));
        JsonNode.Parse((await Chat.WaitForAsync("/teams/", 1)).Single().Body)!["summary"]!.GetValue<string>().ShouldBe($"{Started} View log");
        JsonNode.Parse((await Chat.WaitForAsync("/discord/", 1)).Single().Body)!.ToJsonString().ShouldContain("atmos is deploying");
        var hook = JsonNode.Parse((await Chat.WaitForAsync("/hook", 1)).Single().Body)!;
        hook.ToJsonString().ShouldContain($"\"state\":\"{state}\"");
        hook.ToJsonString().ShouldContain("atmos is deploying");
        JsonNode.Parse((await Chat.WaitForAsync("/hipchat", 1)).Single().Body)!["color"]!.GetValue<string>().ShouldBe("yellow");
    }

    [Fact]
    public async Task Error_SaysWhy_HowLong_AndEscapesTheUser()
    {
        var host = await StartAsync(Slack, Teams);
        var body = JsonNode.Parse(Fixtures.Read("deployment-failure.json"))!;
        body["deployment_status"]!["state"] = "error";
        body["deployment_status"]!["description"] = "Heroku build failed: exit 1";
        body["deployment_status"]!["created_at"] = "2014-05-20T08:08:44Z";
        body["deployment"]!["payload"]!["notify"]!["user"] = "<b>&bob";

        (await host.SendWebhookAsync("deployment_status", body.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var slack = (await Chat.WaitForAsync("/slack/", 1)).ShouldHaveSingleItem();
        var attachment = JsonNode.Parse(slack.Body)!["attachments"]![0]!;
        attachment["color"]!.GetValue<string>().ShouldBe("danger");
        attachment["text"]!.GetValue<string>().ShouldBe($"&lt;b&gt;&amp;bob had an error deploying <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production in 1m 5s: Heroku build failed: exit 1 <{Log}|View log>");
        var teams = (await Chat.WaitForAsync("/teams/", 1)).ShouldHaveSingleItem();
        JsonNode.Parse(teams.Body)!["text"]!.GetValue<string>().ShouldBe($"\\<b\\>&bob had an error deploying [atmos/my-robot]({Repo})/[break-up-notifiers]({Tree}) ([daf8192]({Commit})) to production in 1m 5s: Heroku build failed: exit 1 [View log]({Log})");
    }

    [Fact]
    public async Task DeploymentWithoutNotify_StillNotifies_AsItsCreator()
    {
        var host = await StartAsync(Slack);
        var body = JsonNode.Parse(Fixtures.Read("deployment-success.json"))!;
        body["deployment"]!["payload"]!.AsObject().Remove("notify");

        (await host.SendWebhookAsync("deployment_status", body.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var slack = (await Chat.WaitForAsync("/slack/", 1)).ShouldHaveSingleItem();
        JsonNode.Parse(slack.Body)!["attachments"]![0]!["text"]!.GetValue<string>()
            .ShouldBe($"fakeatmos deployed <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production. <{Log}|View log>");
    }

    [Fact]
    public async Task FailingService_IsRetried_UntilDeliveredOnce()
    {
        var host = await StartAsync(Slack);
        Chat.FailNext("/slack/", 500, times: 2);

        (await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-success.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        (await Chat.WaitForAsync("/slack/", 1)).Count.ShouldBe(1);
        var item = await WaitForItemAsync(host, "notify:slack", i => i.State != WorkItemState.Pending);
        (item.State, item.Attempts, item.LastError).ShouldBe((WorkItemState.Done, 3, null));
        // Once the notifier is idle again, whatever it sent for the item has reached the fake.
        await host.IdleAsync(OutboxConsumer.Notifier);
        Chat.Requests.Count(r => r.Path.StartsWith("/slack/", StringComparison.Ordinal)).ShouldBe(3);
        Chat.Delivered("/slack/").Count.ShouldBe(1);
    }

    [Fact]
    public async Task FailingService_DoesNotHoldBackTheOthers_AndRecordsWhy()
    {
        var host = await StartAsync(Slack, Teams);
        Chat.FailNext("/slack/", 503, times: 1000);

        await SendFixturesAsync(host);

        (await Chat.WaitForAsync("/teams/", 3)).Count.ShouldBe(3);
        var slackItems = await WaitForItemsAsync(host, "notify:slack", items => items.Count == 3 && items[0].Attempts >= 2);
        var slack = slackItems[0];
        slack.State.ShouldBe(WorkItemState.Pending);
        // Slack's later messages wait behind its first, so they arrive in order once Slack is back.
        slackItems.Skip(1).ShouldAllBe(i => i.State == WorkItemState.Pending && i.Attempts == 0);
        slack.LastError.ShouldBe("Slack answered 503 Service Unavailable: invalid_payload");
        slack.LastError!.ShouldNotContain("127.0.0.1");
        Chat.Delivered("/slack/").ShouldBeEmpty();
        var teams = await host.QueryAsync(db => db.WorkItems.Where(w => w.Kind == "notify:teams").ToListAsync());
        teams.Count.ShouldBe(3);
        teams.ShouldAllBe(w => w.State == WorkItemState.Done && w.Attempts == 1);
    }

    [Fact]
    public async Task RefusedMessage_IsNotRetried()
    {
        var host = await StartAsync(Slack);
        Chat.FailNext("/slack/", 404, times: 1000);

        (await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-success.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var item = await WaitForItemAsync(host, "notify:slack", i => i.State != WorkItemState.Pending);
        (item.State, item.Attempts).ShouldBe((WorkItemState.Failed, 1));
        item.LastError.ShouldBe("Slack answered 404 Not Found: invalid_payload");
    }

    [Fact]
    public async Task NoServiceConfigured_CompletesTheEvent_WithoutSending()
    {
        var host = await StartAsync();

        await SendFixturesAsync(host);

        var events = await WaitForItemsAsync(host, WorkItemKinds.DeploymentStatusEvent, items => items.Count == 3 && items.All(i => i.State != WorkItemState.Pending));
        events.ShouldAllBe(i => i.State == WorkItemState.Done && i.LastError == null);
        (await host.QueryAsync(db => db.WorkItems.CountAsync())).ShouldBe(3);
        Chat.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task InactiveStatus_NotifiesNobody()
    {
        var host = await StartAsync(Slack);
        var body = JsonNode.Parse(Fixtures.Read("deployment-success.json"))!;
        body["deployment_status"]!["state"] = "inactive";

        (await host.SendWebhookAsync("deployment_status", body.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        (await WaitForItemsAsync(host, WorkItemKinds.DeploymentStatusEvent, items => items.All(i => i.State == WorkItemState.Done))).Count.ShouldBe(1);
        (await host.QueryAsync(db => db.WorkItems.CountAsync())).ShouldBe(1);
    }

    [Fact]
    public async Task InvalidUrl_StopsTheStart_WithoutQuotingIt()
    {
        var problem = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Notifications:Slack:WebhookUrl"] = "hooks.slack.com/services/T0/B0/SECRETPART",
            ["Notifications:Teams:WebhookUrl"] = "ftp://example.com/x",
            ["Notifications:RequestTimeout"] = "00:05:00",
        }));

        problem.Message.ShouldContain("Notifications:Slack:WebhookUrl (or SLACK_WEBHOOK_URL) must be an absolute http(s) URL.");
        problem.Message.ShouldContain("Notifications:Teams:WebhookUrl must be an absolute http(s) URL.");
        problem.Message.ShouldContain("Notifications:Delivery:Lease (00:02:00) must be longer than twice Notifications:RequestTimeout (00:05:00).");
        problem.Message.ShouldNotContain("SECRETPART");
    }

    [Fact]
    public async Task LegacyVariables_TurnSlackOn()
    {
        var host = await StartAsync(legacy: new Dictionary<string, string?>
        {
            ["SLACK_WEBHOOK_URL"] = Chat.Url("/slack/T0/B0/legacy"),
            ["SLACK_BOT_NAME"] = "hubot",
        });

        (await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-pending.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var request = (await Chat.WaitForAsync("/slack/T0/B0/legacy", 1)).ShouldHaveSingleItem();
        JsonNode.Parse(request.Body)!["username"]!.GetValue<string>().ShouldBe("hubot");
    }

    [Fact]
    public async Task RecordedEvent_WakesTheSender_InsteadOfWaitingForThePoll()
    {
        // A poll far longer than the test may take: only the intake's wake-up can deliver in time.
        var host = await StartAsync(Slack, new() { ["Notifications:Delivery:PollInterval"] = "00:10:00" });
        // The sender's first round at start-up is over and it sleeps.
        await host.IdleAsync(OutboxConsumer.Notifier);

        (await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-pending.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await Chat.WaitForAsync("/slack/", 1)).Count.ShouldBe(1);

        // Asleep again: the next event wakes it as well.
        await host.IdleAsync(OutboxConsumer.Notifier);
        (await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-success.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var delivered = await Chat.WaitForAsync("/slack/", 2);
        delivered.Count.ShouldBe(2);
        JsonNode.Parse(delivered[1].Body)!["attachments"]![0]!["color"]!.GetValue<string>().ShouldBe("good");
    }
}
