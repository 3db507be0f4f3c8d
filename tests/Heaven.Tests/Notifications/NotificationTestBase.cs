using System.Net;
using System.Text.Json.Nodes;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;

namespace Heaven.Tests.Notifications;

/// <summary>
/// What the notification tests share: a fake chat server, Heaven hosts started with a service's
/// settings (fast polling and retries), the original's fixtures, and the links they produce.
/// </summary>
public abstract class NotificationTestBase : IAsyncLifetime
{
    protected const string Repo = "https://github.com/atmos/my-robot";
    protected const string Tree = Repo + "/tree/break-up-notifiers";
    protected const string Sha = "daf81923c94f7513ac840fa4fcc0dfcc11f32f74";
    protected const string Commit = Repo + "/commit/" + Sha;
    protected const string Log = "https://gist.github.com/fa77d9fb1fe41c3bb3a3ffb2c";
    protected const string WebhookSecret = "notify-secret-42";

    private readonly List<HeavenTestHost> hosts = [];

    protected FakeChat Chat { get; private set; } = null!;

    public virtual async Task InitializeAsync() => Chat = await FakeChat.StartAsync();

    public virtual async Task DisposeAsync()
    {
        foreach (var host in hosts)
        {
            await host.DisposeAsync();
        }

        await Chat.DisposeAsync();
    }

    /// <summary>The failure fixture turned into an error with a reason, started 1m 5s before.</summary>
    protected static string ErrorEvent()
    {
        var body = JsonNode.Parse(Fixtures.Read("deployment-failure.json"))!;
        body["deployment_status"]!["state"] = "error";
        body["deployment_status"]!["description"] = "Heroku build failed: exit 1";
        body["deployment_status"]!["created_at"] = "2014-05-20T08:08:44Z";
        return body.ToJsonString();
    }

    /// <summary>Pending, success, failure (the fixtures) and then an error, in that order.</summary>
    protected static async Task SendAllOutcomesAsync(HeavenTestHost host)
    {
        await SendFixturesAsync(host);
        (await host.SendWebhookAsync("deployment_status", ErrorEvent())).StatusCode.ShouldBe(HttpStatusCode.Accepted);
    }

    protected Dictionary<string, string?> Slack => new()
    {
        ["Notifications:Slack:WebhookUrl"] = Chat.Url("/slack/T000/B000/XXXX"),
        ["Notifications:Slack:BotName"] = "Heaven",
        ["Notifications:Slack:BotIcon"] = ":rocket:",
    };

    protected Dictionary<string, string?> Teams => new() { ["Notifications:Teams:WebhookUrl"] = Chat.Url("/teams/webhook") };

    protected Dictionary<string, string?> Discord => new() { ["Notifications:Discord:WebhookUrl"] = Chat.Url("/discord/api/webhooks/1/token") };

    protected Dictionary<string, string?> Webhook => new()
    {
        ["Notifications:Webhook:Url"] = Chat.Url("/hook"),
        ["Notifications:Webhook:Secret"] = WebhookSecret,
    };

    protected Dictionary<string, string?> HipChat => new()
    {
        ["Notifications:HipChat:Token"] = "hipchat-token",
        ["Notifications:HipChat:Room"] = "ops",
        ["Notifications:HipChat:Server"] = Chat.Url("/hipchat"),
    };

    protected Task<HeavenTestHost> StartAsync(params Dictionary<string, string?>[] services) => StartAsync(null, services);

    protected async Task<HeavenTestHost> StartAsync(IReadOnlyDictionary<string, string?>? legacy, params Dictionary<string, string?>[] services)
    {
        var settings = new Dictionary<string, string?>
        {
            // Fast polling and retries, so a test sees a retry in well under a second.
            ["Notifications:Delivery:PollInterval"] = "00:00:00.050",
            ["Notifications:Delivery:RetryBase"] = "00:00:00.100",
            ["Notifications:Delivery:RetryCap"] = "00:00:00.200",
        };
        foreach (var (key, value) in services.SelectMany(s => s))
        {
            settings[key] = value;
        }

        var host = await HeavenTestHost.StartAsync(settings, legacyEnvironment: legacy);
        hosts.Add(host);
        return host;
    }

    /// <summary>Sends pending, success, failure in that order; the outbox keeps that order for each service.</summary>
    protected static async Task SendFixturesAsync(HeavenTestHost host)
    {
        foreach (var fixture in new[] { "deployment-pending.json", "deployment-success.json", "deployment-failure.json" })
        {
            (await host.SendWebhookAsync("deployment_status", Fixtures.Read(fixture))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        }
    }

    protected static async Task<WorkItem> WaitForItemAsync(HeavenTestHost host, string kind, Func<WorkItem, bool> done) =>
        (await WaitForItemsAsync(host, kind, items => items.Count == 1 && done(items[0]))).ShouldHaveSingleItem();

    protected static Task<List<WorkItem>> WaitForItemsAsync(HeavenTestHost host, string kind, Func<List<WorkItem>, bool> done) =>
        host.WaitForWorkItemsAsync(kind, done, $"the {kind} work items to reach the expected state");

    protected static void ShouldEqual(JsonNode? actual, JsonNode expected) =>
        JsonNode.DeepEquals(actual, expected).ShouldBeTrue($"expected {expected.ToJsonString()}\nbut got  {actual?.ToJsonString()}");
}
