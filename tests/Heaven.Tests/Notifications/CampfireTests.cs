using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Heaven.Configuration;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;

namespace Heaven.Tests.Notifications;

/// <summary>Campfire, classic (token, subdomain, room by id or name) and self-hosted (a bot's room URL): plain text with the addresses written out.</summary>
public sealed class CampfireTests : NotificationTestBase
{
    private const string Token = "campfire-api-token-1234";
    private const string Rooms = """{"rooms":[{"id":1001,"name":"Ops"},{"id":1002,"name":"danger"},{"id":1003,"name":"Lobby"}]}""";

    private static readonly string[] Texts =
    [
        $"atmos is deploying atmos/my-robot/break-up-notifiers (daf8192) to production. View log: {Log}",
        $"atmos deployed atmos/my-robot/break-up-notifiers (daf8192) to production. View log: {Log}",
        $"atmos failed to deploy atmos/my-robot/break-up-notifiers (daf8192) to production. View log: {Log}",
        $"atmos had an error deploying atmos/my-robot/break-up-notifiers (daf8192) to production in 1m 5s: Heroku build failed: exit 1 View log: {Log}",
    ];

    [Fact]
    public async Task Classic_LooksTheRoomUpByName_AndSpeaksWithTheTokenAsUser()
    {
        Chat.Respond("/campfire/rooms.json", 200, Rooms);
        var host = await StartAsync(Classic());

        await SendAllOutcomesAsync(host);

        var spoken = await Chat.WaitForAsync("/campfire/room/", 4);
        spoken.Count.ShouldBe(4);
        var basic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(Token + ":X"));
        for (var i = 0; i < 4; i++)
        {
            spoken[i].Method.ShouldBe("POST");
            spoken[i].Path.ShouldBe("/campfire/room/1002/speak.json");
            spoken[i].Header("Authorization").ShouldBe(basic);
            ShouldEqual(JsonNode.Parse(spoken[i].Body), new JsonObject
            {
                ["message"] = new JsonObject { ["body"] = Texts[i], ["type"] = "TextMessage" },
            });
        }

        var lookups = Chat.Requests.Where(r => r.Path == "/campfire/rooms.json").ToList();
        lookups.Count.ShouldBe(4);
        lookups.ShouldAllBe(r => r.Method == "GET" && r.Header("Authorization") == basic);
    }

    [Fact]
    public async Task Classic_NumericRoom_IsUsedAsItIs()
    {
        var host = await StartAsync(Classic());
        var body = JsonNode.Parse(Fixtures.Read("deployment-pending.json"))!;
        body["deployment"]!["payload"]!["notify"]!["room"] = "4242";

        (await host.SendWebhookAsync("deployment_status", body.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var spoken = (await Chat.WaitForAsync("/campfire/room/", 1)).ShouldHaveSingleItem();
        spoken.Path.ShouldBe("/campfire/room/4242/speak.json");
        JsonNode.Parse(spoken.Body)!["message"]!["body"]!.GetValue<string>().ShouldBe(Texts[0]);
        Chat.Requests.ShouldNotContain(r => r.Path == "/campfire/rooms.json");
    }

    [Fact]
    public async Task Classic_WithoutNotify_SpeaksInTheDefaultRoom()
    {
        Chat.Respond("/campfire/rooms.json", 200, Rooms);
        var host = await StartAsync(Classic(), new() { ["Notifications:Campfire:Room"] = "ops" });
        var body = JsonNode.Parse(Fixtures.Read("deployment-success.json"))!;
        body["deployment"]!["payload"]!.AsObject().Remove("notify");

        (await host.SendWebhookAsync("deployment_status", body.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var spoken = (await Chat.WaitForAsync("/campfire/room/", 1)).ShouldHaveSingleItem();
        spoken.Path.ShouldBe("/campfire/room/1001/speak.json");
        JsonNode.Parse(spoken.Body)!["message"]!["body"]!.GetValue<string>()
            .ShouldBe($"fakeatmos deployed atmos/my-robot/break-up-notifiers (daf8192) to production. View log: {Log}");
    }

    [Fact]
    public async Task Classic_UnknownRoomName_FailsAtOnce_AndSaysWhatToDo()
    {
        Chat.Respond("/campfire/rooms.json", 200, Rooms);
        var host = await StartAsync(Classic());
        var body = JsonNode.Parse(Fixtures.Read("deployment-success.json"))!;
        body["deployment"]!["payload"]!["notify"]!["room"] = "deploys";

        (await host.SendWebhookAsync("deployment_status", body.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var item = await WaitForItemAsync(host, "notify:campfire", i => i.State != WorkItemState.Pending);
        (item.State, item.Attempts).ShouldBe((WorkItemState.Failed, 1));
        item.LastError.ShouldBe("Campfire has no room named 'deploys' that this token can see; name one of its rooms, or give the room's numeric id.");
        Chat.Requests.ShouldNotContain(r => r.Path.StartsWith("/campfire/room/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Classic_NoRoomAnywhere_FailsAtOnce()
    {
        var host = await StartAsync(Classic());
        var body = JsonNode.Parse(Fixtures.Read("deployment-success.json"))!;
        body["deployment"]!["payload"]!.AsObject().Remove("notify");

        (await host.SendWebhookAsync("deployment_status", body.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var item = await WaitForItemAsync(host, "notify:campfire", i => i.State != WorkItemState.Pending);
        (item.State, item.Attempts).ShouldBe((WorkItemState.Failed, 1));
        item.LastError.ShouldBe("Campfire has no room to speak in: the deployment names none in payload.notify.room and Notifications:Campfire:Room (or CAMPFIRE_ROOM) is not set.");
        Chat.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task Classic_LookupAndSpeech_TogetherTakeAtMostOneRequestTimeout()
    {
        // Each answer comes within the timeout; both together do not.
        Chat.Respond("/campfire/rooms.json", 200, Rooms, delay: TimeSpan.FromSeconds(0.7));
        Chat.Respond("/campfire/room/", 201, "{}", delay: TimeSpan.FromSeconds(0.7));
        var host = await StartAsync(Classic(), new() { ["Notifications:RequestTimeout"] = "00:00:01" });

        (await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-success.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var item = await WaitForItemAsync(host, "notify:campfire", i => i.Attempts >= 2);
        item.State.ShouldBe(WorkItemState.Pending);
        item.LastError.ShouldBe("campfire did not answer within 00:00:01.");
    }

    [Fact]
    public async Task Bot_PostsPlainText_ToItsRoomUrl()
    {
        var host = await StartAsync(new Dictionary<string, string?> { ["Notifications:Campfire:BotUrl"] = Chat.Url("/bot/rooms/1/2-AbCdEf/messages") });

        await SendAllOutcomesAsync(host);

        var posted = await Chat.WaitForAsync("/bot/rooms/1/2-AbCdEf/messages", 4);
        posted.Count.ShouldBe(4);
        posted.Select(r => r.Body).ShouldBe(Texts);
        posted.ShouldAllBe(r => r.Method == "POST" && r.Header("Content-Type") == "text/plain; charset=utf-8");
        Chat.Requests.Count.ShouldBe(4);
    }

    [Fact]
    public async Task Bot_Failure_IsRecordedWithoutItsUrl()
    {
        var host = await StartAsync(new Dictionary<string, string?> { ["Notifications:Campfire:BotUrl"] = Chat.Url("/bot/rooms/1/2-SeCrEtKeY/messages") });
        Chat.FailNext("/bot/", 404, times: 1000);

        (await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-success.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var item = await WaitForItemAsync(host, "notify:campfire-bot", i => i.State != WorkItemState.Pending);
        (item.State, item.Attempts).ShouldBe((WorkItemState.Failed, 1));
        item.LastError.ShouldBe("Campfire answered 404 Not Found: invalid_payload");
    }

    [Fact]
    public async Task LegacyVariables_TurnClassicCampfireOn()
    {
        Chat.Respond("/campfire/rooms.json", 200, Rooms);
        var host = await StartAsync(
            legacy: new Dictionary<string, string?>
            {
                ["CAMPFIRE_TOKEN"] = Token,
                ["CAMPFIRE_SUBDOMAIN"] = "acme",
                ["CAMPFIRE_ROOM"] = "Lobby",
            },
            services: new Dictionary<string, string?> { ["Notifications:Campfire:Url"] = Chat.Url("/campfire") });
        var body = JsonNode.Parse(Fixtures.Read("deployment-pending.json"))!;
        body["deployment"]!["payload"]!.AsObject().Remove("notify");

        (await host.SendWebhookAsync("deployment_status", body.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        (await Chat.WaitForAsync("/campfire/room/1003/speak.json", 1)).Count.ShouldBe(1);
    }

    [Fact]
    public async Task BadSettings_StopTheStart_WithoutQuotingSecrets()
    {
        var problem = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Notifications:Campfire:Token"] = Token,
            ["Notifications:Campfire:Subdomain"] = "acme.campfirenow.com/x",
            ["Notifications:Campfire:BotUrl"] = "campfire.example.com/rooms/1/2-SeCrEtKeY/messages",
        }));

        problem.Message.ShouldContain("Notifications:Campfire:Subdomain (or CAMPFIRE_SUBDOMAIN) must be the account's subdomain only (letters, digits and hyphens, as in <subdomain>.campfirenow.com); got 'acme.campfirenow.com/x'.");
        problem.Message.ShouldContain("Notifications:Campfire:BotUrl (or CAMPFIRE_BOT_URL) must be an absolute http(s) URL.");
        problem.Message.ShouldNotContain("SeCrEtKeY");
        problem.Message.ShouldNotContain(Token);

        var alone = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Notifications:Campfire:Token"] = Token,
        }));
        alone.Message.ShouldContain("Notifications:Campfire:Token (or CAMPFIRE_TOKEN) and Notifications:Campfire:Subdomain (or CAMPFIRE_SUBDOMAIN) go together: set both or neither.");
    }

    private Dictionary<string, string?> Classic() => new()
    {
        ["Notifications:Campfire:Token"] = Token,
        ["Notifications:Campfire:Subdomain"] = "acme",
        // The classic API's address, pointed at the fake (it is https://acme.campfirenow.com otherwise).
        ["Notifications:Campfire:Url"] = Chat.Url("/campfire"),
    };
}
