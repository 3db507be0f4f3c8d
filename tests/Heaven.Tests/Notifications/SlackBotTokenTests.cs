using System.Net;
using System.Text.Json.Nodes;
using Heaven.Configuration;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;

namespace Heaven.Tests.Notifications;

/// <summary>Slack through a bot token: chat.postMessage to the deployment's room, Slack's ok:false answers sorted into retry or not.</summary>
public sealed class SlackBotTokenTests : NotificationTestBase
{
    private const string BotToken = "xoxb-1234-5678-AbCdEfGhIjKl";
    private const string PostMessage = "/slack-api/api/chat.postMessage";

    private static readonly string[] Texts =
    [
        $"atmos is deploying <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production. <{Log}|View log>",
        $"atmos deployed <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production. <{Log}|View log>",
        $"atmos failed to deploy <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production. <{Log}|View log>",
        $"atmos had an error deploying <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production in 1m 5s: Heroku build failed: exit 1 <{Log}|View log>",
    ];

    private static readonly string[] Colours = ["warning", "good", "danger", "danger"];

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Chat.Respond("/slack-api/", 200, """{"ok":true,"channel":"C0123","ts":"1700000000.000100"}""");
    }

    [Fact]
    public async Task PostsToTheRoomTheDeploymentNames_WithTheBotToken()
    {
        var host = await StartAsync(Bot());

        await SendAllOutcomesAsync(host);

        var posted = await Chat.WaitForAsync(PostMessage, 4);
        posted.Count.ShouldBe(4);
        for (var i = 0; i < 4; i++)
        {
            posted[i].Method.ShouldBe("POST");
            posted[i].Header("Authorization").ShouldBe("Bearer " + BotToken);
            posted[i].Header("Content-Type").ShouldBe("application/json; charset=utf-8");
            ShouldEqual(JsonNode.Parse(posted[i].Body), new JsonObject
            {
                ["channel"] = "danger",
                ["username"] = "Heaven",
                ["icon_emoji"] = ":rocket:",
                ["attachments"] = new JsonArray(new JsonObject
                {
                    ["fallback"] = Texts[i].Replace($"<{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>)", "atmos/my-robot/break-up-notifiers (daf8192)", StringComparison.Ordinal)
                        .Replace($"<{Log}|View log>", "View log", StringComparison.Ordinal),
                    ["color"] = Colours[i],
                    ["text"] = Texts[i],
                    ["mrkdwn_in"] = new JsonArray("text"),
                }),
            });
        }
    }

    [Fact]
    public async Task WithoutNotify_PostsToTheDefaultChannel_WithoutItsHash()
    {
        var host = await StartAsync(Bot(), new() { ["Notifications:Slack:Channel"] = "#deploys" });
        var body = JsonNode.Parse(Fixtures.Read("deployment-success.json"))!;
        body["deployment"]!["payload"]!.AsObject().Remove("notify");

        (await host.SendWebhookAsync("deployment_status", body.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var posted = JsonNode.Parse((await Chat.WaitForAsync(PostMessage, 1)).ShouldHaveSingleItem().Body)!;
        posted["channel"]!.GetValue<string>().ShouldBe("deploys");
        posted["attachments"]![0]!["text"]!.GetValue<string>()
            .ShouldBe($"fakeatmos deployed <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production. <{Log}|View log>");
    }

    [Fact]
    public async Task WithAWebhookToo_TheBotTakesNamedRooms_AndTheWebhookTheRest()
    {
        var host = await StartAsync(Bot(), new() { ["Notifications:Slack:WebhookUrl"] = Chat.Url("/slack/T000/B000/XXXX") });
        var withoutRoom = JsonNode.Parse(Fixtures.Read("deployment-success.json"))!;
        withoutRoom["deployment"]!["payload"]!.AsObject().Remove("notify");

        (await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-pending.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await host.SendWebhookAsync("deployment_status", withoutRoom.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var hooked = (await Chat.WaitForAsync("/slack/T000/", 1)).ShouldHaveSingleItem();
        JsonNode.Parse(hooked.Body)!["attachments"]![0]!["color"]!.GetValue<string>().ShouldBe("good");
        JsonNode.Parse(hooked.Body)!.AsObject().ContainsKey("channel").ShouldBeFalse();
        var posted = (await Chat.WaitForAsync(PostMessage, 1)).ShouldHaveSingleItem();
        JsonNode.Parse(posted.Body)!["channel"]!.GetValue<string>().ShouldBe("danger");
        JsonNode.Parse(posted.Body)!["attachments"]![0]!["color"]!.GetValue<string>().ShouldBe("warning");
    }

    [Fact]
    public async Task ChannelNotFound_IsRecorded_AndNotRetried()
    {
        Chat.Respond("/slack-api/", 200, """{"ok":false,"error":"channel_not_found"}""");
        var host = await StartAsync(Bot());

        (await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-success.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var item = await WaitForItemAsync(host, "notify:slack", i => i.State != WorkItemState.Pending);
        (item.State, item.Attempts).ShouldBe((WorkItemState.Failed, 1));
        item.LastError.ShouldBe("Slack refused the message to #danger: channel_not_found (no such channel, or a private one the bot is not in)");
        await host.IdleAsync(OutboxConsumer.Notifier);
        Chat.Requests.Count(r => r.Path == PostMessage).ShouldBe(1);
    }

    [Fact]
    public async Task InvalidAuth_IsRecorded_WithoutTheToken_AndNotRetried()
    {
        Chat.Respond("/slack-api/", 200, """{"ok":false,"error":"invalid_auth"}""");
        var host = await StartAsync(Bot());

        (await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-success.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var item = await WaitForItemAsync(host, "notify:slack", i => i.State != WorkItemState.Pending);
        (item.State, item.Attempts).ShouldBe((WorkItemState.Failed, 1));
        item.LastError.ShouldBe("Slack refused the message to #danger: invalid_auth (check Notifications:Slack:BotToken)");
    }

    [Fact]
    public async Task RateLimited_WaitsAsLongAsSlackAsks_ThenDelivers()
    {
        // The retry backoff in these tests is at most 0.2 s: only Retry-After can make it wait a second.
        Chat.Respond("/slack-api/", 429, """{"ok":false,"error":"ratelimited"}""", new Dictionary<string, string> { ["Retry-After"] = "1" }, times: 1);
        var host = await StartAsync(Bot());

        (await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-success.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var item = await WaitForItemAsync(host, "notify:slack", i => i.State != WorkItemState.Pending);
        (item.State, item.Attempts, item.LastError).ShouldBe((WorkItemState.Done, 2, null));
        var attempts = Chat.Requests.Where(r => r.Path == PostMessage).ToList();
        attempts.Select(r => r.Status).ShouldBe([429, 200]);
        (attempts[1].At - attempts[0].At).ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(0.9));
    }

    [Fact]
    public async Task OkFalseRateLimit_IsRetried()
    {
        Chat.Respond("/slack-api/", 200, """{"ok":false,"error":"ratelimited"}""", times: 1);
        var host = await StartAsync(Bot());

        (await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-success.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var item = await WaitForItemAsync(host, "notify:slack", i => i.State != WorkItemState.Pending);
        (item.State, item.Attempts, item.LastError).ShouldBe((WorkItemState.Done, 2, null));
    }

    [Fact]
    public async Task BotTokenWithoutAnyChannel_FailsAtOnce_AndSaysWhy()
    {
        var host = await StartAsync(Bot());
        var body = JsonNode.Parse(Fixtures.Read("deployment-success.json"))!;
        body["deployment"]!["payload"]!.AsObject().Remove("notify");

        (await host.SendWebhookAsync("deployment_status", body.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var item = await WaitForItemAsync(host, "notify:slack", i => i.State != WorkItemState.Pending);
        (item.State, item.Attempts).ShouldBe((WorkItemState.Failed, 1));
        item.LastError.ShouldBe("Slack has no channel to post to: the deployment names no room in payload.notify.room and Notifications:Slack:Channel is not set.");
        Chat.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task LegacySlackToken_IsTheBotToken()
    {
        var host = await StartAsync(
            legacy: new Dictionary<string, string?> { ["SLACK_TOKEN"] = BotToken },
            services: new Dictionary<string, string?> { ["Notifications:Slack:ApiUrl"] = Chat.Url("/slack-api") });

        (await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-pending.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        (await Chat.WaitForAsync(PostMessage, 1)).ShouldHaveSingleItem().Header("Authorization").ShouldBe("Bearer " + BotToken);
    }

    [Fact]
    public async Task OldWebhookToken_StopsTheStart_WithoutQuotingIt()
    {
        var problem = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(
            legacyEnvironment: new Dictionary<string, string?> { ["SLACK_TOKEN"] = "T0LEGACYWEBHOOKTOKEN" }));

        problem.Message.ShouldContain("Notifications:Slack:BotToken (or SLACK_TOKEN) must be a Slack API token (xoxb-… for a bot) without spaces. An old incoming-webhook token no longer works: use Notifications:Slack:WebhookUrl (or SLACK_WEBHOOK_URL) for a webhook.");
        problem.Message.ShouldNotContain("T0LEGACYWEBHOOKTOKEN");
    }

    private Dictionary<string, string?> Bot() => new()
    {
        ["Notifications:Slack:BotToken"] = BotToken,
        ["Notifications:Slack:ApiUrl"] = Chat.Url("/slack-api"),
        ["Notifications:Slack:BotName"] = "Heaven",
        ["Notifications:Slack:BotIcon"] = ":rocket:",
    };
}
