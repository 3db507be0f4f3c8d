using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Intake;

/// <summary>
/// Names from a payload end up in Heaven's log lines ("production locked by alice", "Deployment 7 of
/// octo/app to staging"): a signed payload that puts a line break or an invisible direction override
/// in one is refused at intake, naming the field, so it can never forge or disguise a log line.
/// </summary>
public sealed class LoggedNameTests(LoggedNameTests.Host fixture) : IClassFixture<LoggedNameTests.Host>
{
    /// <summary>Where each checked name of a deployment is, and how to put a value there.</summary>
    private static readonly Dictionary<string, Action<JsonNode, string>> DeploymentFields = new()
    {
        ["repository.full_name"] = (body, value) => body["repository"]!["full_name"] = value,
        ["deployment.environment"] = (body, value) => body["deployment"]!["environment"] = value,
        ["deployment.ref"] = (body, value) => body["deployment"]!["ref"] = value,
        ["deployment.sha"] = (body, value) => body["deployment"]!["sha"] = value,
        ["deployment.task"] = (body, value) => body["deployment"]!["task"] = value,
        ["deployment.payload.task"] = (body, value) =>
        {
            body["deployment"]!.AsObject().Remove("task");
            body["deployment"]!["payload"]!["task"] = value;
        },
        ["deployment.creator.login"] = (body, value) => body["deployment"]!["creator"]!["login"] = value,
        ["deployment.payload.name"] = (body, value) => body["deployment"]!["payload"]!["name"] = value,
        ["deployment.payload.config.provider"] = (body, value) => body["deployment"]!["payload"]!["config"]!["provider"] = value,
        ["deployment.payload.notify.user"] = (body, value) => body["deployment"]!["payload"]!["notify"]!["user"] = value,
        ["deployment.payload.notify.user_name"] = (body, value) => body["deployment"]!["payload"]!["notify"]!["user_name"] = value,
    };

    public static TheoryData<string> DeploymentFieldPaths() => new(DeploymentFields.Keys);

    [Theory]
    [MemberData(nameof(DeploymentFieldPaths))]
    public async Task ALineBreakInAnyLoggedNameOfADeployment_Is400NamingTheField(string path)
    {
        var body = JsonNode.Parse(Fixtures.Read("deployment.json"))!;
        DeploymentFields[path](body, "production\n2026-12-02 info: Deployment 1 finished: Succeeded");

        var response = await fixture.Heaven.SendWebhookAsync("deployment", body.ToJsonString());

        await ShouldBeRefusedAsync(response, $"The payload's {path} contains a control character (U+000A)");
    }

    [Theory]
    [InlineData("\r", "a control character (U+000D)")]
    [InlineData("\u0000", "a control character (U+0000)")]
    [InlineData("\u001b[2J", "a control character (U+001B)")]
    [InlineData("\u007f", "a control character (U+007F)")]
    [InlineData("\u0085", "a control character (U+0085)")]
    [InlineData("\u2028", "a line separator (U+2028)")]
    [InlineData("\u2029", "a paragraph separator (U+2029)")]
    [InlineData("\u202e", "an invisible format character (U+202E)")]
    [InlineData("\u2066", "an invisible format character (U+2066)")]
    [InlineData("\u200b", "an invisible format character (U+200B)")]
    [InlineData("\U000E0041", "an invisible format character (U+E0041)")]
    public async Task EveryDangerousCharacter_IsRefused(string character, string named)
    {
        var body = JsonNode.Parse(Fixtures.Read("deployment.json"))!;
        body["deployment"]!["environment"] = "prod" + character + "uction";

        var response = await fixture.Heaven.SendWebhookAsync("deployment", body.ToJsonString());

        await ShouldBeRefusedAsync(response, $"The payload's deployment.environment contains {named}");
    }

    [Fact]
    public async Task AnEscapedHalfSurrogatePair_Is400NotAServerError()
    {
        var body = JsonNode.Parse(Fixtures.Read("deployment.json"))!;
        body["deployment"]!["environment"] = "placeholder";
        var text = body.ToJsonString().Replace("\"placeholder\"", "\"prod\\ud800\"", StringComparison.Ordinal);

        var response = await fixture.Heaven.SendWebhookAsync("deployment", text);

        await ShouldBeRefusedAsync(response, "unpaired surrogate escape");
    }

    [Theory]
    [InlineData("deployment_status", "deployment-success.json", "deployment.environment")]
    [InlineData("deployment_status", "deployment-success.json", "deployment.ref")]
    [InlineData("deployment_status", "deployment-success.json", "deployment_status.state")]
    [InlineData("deployment_status", "deployment-success.json", "repository.full_name")]
    [InlineData("status", "status_success.json", "context")]
    [InlineData("status", "status_success.json", "sha")]
    [InlineData("status", "status_success.json", "repository.full_name")]
    [InlineData("check_suite", null, "check_suite.head_branch")]
    [InlineData("check_suite", null, "check_suite.app.name")]
    [InlineData("ping", "ping.json", "organization.login")]
    [InlineData("push", null, "repository.full_name")]
    public async Task ALineBreakInALoggedNameOfAnyEvent_Is400NamingTheField(string eventName, string? fixtureName, string path)
    {
        var body = fixtureName is null ? CheckSuite() : JsonNode.Parse(Fixtures.Read(fixtureName))!;
        Set(body, path, "ci\ninfo: forged");

        var response = await fixture.Heaven.SendWebhookAsync(eventName, body.ToJsonString());

        await ShouldBeRefusedAsync(response, $"The payload's {path} contains a control character (U+000A)");
    }

    private async Task ShouldBeRefusedAsync(HttpResponseMessage response, string message)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, text);
        using var answer = JsonDocument.Parse(text);
        answer.RootElement.GetProperty("result").GetString().ShouldBe("rejected");
        answer.RootElement.GetProperty("message").GetString()!.ShouldContain(message);
        // The refused value is not repeated in the answer (nor in the log line that quotes it).
        answer.RootElement.GetProperty("message").GetString()!.ShouldNotContain("forged");
        await fixture.Heaven.ShouldHaveStoredNothingAsync();
    }

    private static JsonNode CheckSuite() => new JsonObject
    {
        ["action"] = "completed",
        ["check_suite"] = new JsonObject
        {
            ["head_sha"] = "3c9f42c76ce057eaabc3762e3ec46dd830976963",
            ["head_branch"] = "master",
            ["conclusion"] = "success",
            ["app"] = new JsonObject { ["slug"] = "ci", ["name"] = "CI" },
        },
        ["repository"] = new JsonObject { ["full_name"] = "atmos/my-robot" },
    };

    /// <summary>Sets the string at a dotted path, making the objects on the way.</summary>
    private static void Set(JsonNode body, string path, string value)
    {
        var parts = path.Split('.');
        var node = body;
        foreach (var part in parts[..^1])
        {
            node = node[part] ??= new JsonObject();
        }

        node[parts[^1]] = value;
    }

    /// <summary>One Heaven for the class: every delivery here is refused, so nothing is ever stored in it.</summary>
    public sealed class Host : IAsyncLifetime
    {
        public HeavenTestHost Heaven { get; private set; } = null!;

        public async Task InitializeAsync() => Heaven = await HeavenTestHost.StartAsync();

        public async Task DisposeAsync() => await Heaven.DisposeAsync();
    }
}

/// <summary>Names in other scripts and emoji are names like any other.</summary>
public sealed class LoggedNameAcceptanceTests : IAsyncLifetime
{
    private HeavenTestHost host = null!;

    public async Task InitializeAsync() => host = await HeavenTestHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task LettersOfAnyScriptAndEmoji_AreAccepted()
    {
        var body = JsonNode.Parse(Fixtures.Read("deployment.json"))!;
        body["deployment"]!["environment"] = "prödüction-東京-🚀";
        body["deployment"]!["ref"] = "feature/naïve-👩‍💻";

        var response = await host.SendWebhookAsync("deployment", body.ToJsonString());

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
    }
}
