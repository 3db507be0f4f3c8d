using System.Net;
using System.Text.Json.Nodes;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Notifications;

/// <summary>
/// A ref, an environment, a user or a log address chosen to forge a link ("x|&lt;https://evil|click&gt;",
/// "prod](https://evil)") reaches each chat service as plain text: escaped for the service's markup,
/// and a link address that cannot end its link early.
/// </summary>
public sealed class HostileNameTests : NotificationTestBase
{
    private const string HostileRef = "x|<https://evil.example|click>";
    private const string HostileEnvironment = "prod](https://evil.example) *now*";
    private const string HostileUser = "<!channel>|mal";
    private const string HostileLogUrl = "https://heaven.example/log?a=1&b=2 [x](https://evil.example) |<https://evil.example|y>";

    /// <summary>The tree link of <see cref="HostileRef"/>, as the message builds it (the ref percent-encoded, '/' kept).</summary>
    private const string HostileTree = Repo + "/tree/x%7C%3Chttps%3A//evil.example%7Cclick%3E";

    /// <summary><see cref="HostileLogUrl"/> with what a URL may not hold percent-encoded.</summary>
    private const string CleanLogUrl = "https://heaven.example/log?a=1&b=2%20[x](https://evil.example)%20%7C%3Chttps://evil.example%7Cy%3E";

    [Fact]
    public async Task Slack_EscapesNamesAndLinkTexts_AndNoAddressEndsItsLinkEarly()
    {
        var host = await StartAsync(Slack);

        await SendHostileAsync(host, HostileLogUrl);

        var attachment = JsonNode.Parse((await Chat.WaitForAsync("/slack/", 1)).ShouldHaveSingleItem().Body)!["attachments"]![0]!;
        attachment["text"]!.GetValue<string>().ShouldBe(
            $"&lt;!channel&gt;|mal failed to deploy <{Repo}|atmos/my-robot>/<{HostileTree}|x¦&lt;https://evil.example¦click&gt;> (<{Commit}|daf8192>) " +
            "to prod](https://evil.example) *now*. " +
            $"<{CleanLogUrl.Replace("&", "&amp;", StringComparison.Ordinal)}|View log>");
        attachment["fallback"]!.GetValue<string>().ShouldBe(
            "&lt;!channel&gt;|mal failed to deploy atmos/my-robot/x|&lt;https://evil.example|click&gt; (daf8192) to prod](https://evil.example) *now*. View log");
    }

    [Fact]
    public async Task Discord_EscapesNamesAndLinkTexts_AndNoAddressEndsItsLinkEarly()
    {
        var host = await StartAsync(Discord);

        await SendHostileAsync(host, HostileLogUrl);

        var embed = JsonNode.Parse((await Chat.WaitForAsync("/discord/", 1)).ShouldHaveSingleItem().Body)!["embeds"]![0]!;
        embed["description"]!.GetValue<string>().ShouldBe(ExpectedMarkdown);
    }

    [Fact]
    public async Task Teams_EscapesNamesAndLinkTexts_AndNoAddressEndsItsLinkEarly()
    {
        var host = await StartAsync(Teams);

        await SendHostileAsync(host, HostileLogUrl);

        var card = JsonNode.Parse((await Chat.WaitForAsync("/teams/", 1)).ShouldHaveSingleItem().Body)!;
        card["text"]!.GetValue<string>().ShouldBe(ExpectedMarkdown);
    }

    [Fact]
    public async Task ALogAddressThatIsNotHttp_IsShownAsTextOnly_OnEveryService()
    {
        var host = await StartAsync(Slack, Discord, Teams);

        await SendHostileAsync(host, "javascript:alert(document.cookie)", plainNames: true);

        var slack = JsonNode.Parse((await Chat.WaitForAsync("/slack/", 1)).ShouldHaveSingleItem().Body)!["attachments"]![0]!["text"]!.GetValue<string>();
        slack.ShouldBe($"atmos failed to deploy <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production. View log");
        var markdown = $"atmos failed to deploy [atmos/my-robot]({Repo})/[break-up-notifiers]({Tree}) ([daf8192]({Commit})) to production. View log";
        JsonNode.Parse((await Chat.WaitForAsync("/discord/", 1)).ShouldHaveSingleItem().Body)!["embeds"]![0]!["description"]!.GetValue<string>().ShouldBe(markdown);
        JsonNode.Parse((await Chat.WaitForAsync("/teams/", 1)).ShouldHaveSingleItem().Body)!["text"]!.GetValue<string>().ShouldBe(markdown);
    }

    /// <summary>Discord's and Teams' text: markdown's punctuation escaped, parentheses in the address percent-encoded.</summary>
    private static string ExpectedMarkdown =>
        $"\\<!channel\\>\\|mal failed to deploy [atmos/my-robot]({Repo})/[x\\|\\<https://evil.example\\|click\\>]({HostileTree}) ([daf8192]({Commit})) " +
        "to prod\\](https://evil.example) \\*now\\*. " +
        $"[View log]({CleanLogUrl.Replace("(", "%28", StringComparison.Ordinal).Replace(")", "%29", StringComparison.Ordinal)})";

    /// <summary>The original's failure event with hostile names (unless <paramref name="plainNames"/>) and <paramref name="logUrl"/>.</summary>
    private static async Task SendHostileAsync(HeavenTestHost host, string logUrl, bool plainNames = false)
    {
        var body = JsonNode.Parse(Fixtures.Read("deployment-failure.json"))!;
        if (!plainNames)
        {
            body["deployment"]!["ref"] = HostileRef;
            body["deployment"]!["environment"] = HostileEnvironment;
            body["deployment"]!["payload"]!["notify"]!["user"] = HostileUser;
        }

        body["deployment_status"]!["target_url"] = logUrl;
        body["deployment_status"]!["log_url"] = logUrl;
        (await host.SendWebhookAsync("deployment_status", body.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.Accepted);
    }
}
