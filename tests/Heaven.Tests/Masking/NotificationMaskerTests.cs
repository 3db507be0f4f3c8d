using System.Net;
using System.Text.Json.Nodes;
using Heaven.Tests.Infrastructure;
using Heaven.Tests.Notifications;

namespace Heaven.Tests.Masking;

/// <summary>
/// A chat message goes to a room full of people (and to a service's servers): a configured secret in
/// anything the message says reaches the room as <c>***</c>, however each service renders it.
/// </summary>
public sealed class NotificationMaskerTests : NotificationTestBase
{
    /// <summary>Configured in every test host (<c>Webhooks:Secret</c>).</summary>
    private const string Secret = HeavenTestHost.Secret;

    [Fact]
    public async Task AnErrorWhoseDescriptionQuotesASecret_ReachesTheRoomMasked()
    {
        var host = await StartAsync(Slack, Teams, Webhook);
        var body = JsonNode.Parse(ErrorEvent())!;
        // Another deploy system's status, or an older Heaven's, quoting a setting Heaven holds.
        body["deployment_status"]!["description"] = $"could not sign with {Secret}";
        body["deployment_status"]!["log_url"] = $"https://ci.example.com/log?key={Secret}";

        (await host.SendWebhookAsync("deployment_status", body.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var slack = JsonNode.Parse((await Chat.WaitForAsync("/slack/", 1)).ShouldHaveSingleItem().Body)!["attachments"]![0]!;
        slack["text"]!.GetValue<string>().ShouldContain("in 1m 5s: could not sign with *** <https://ci.example.com/log?key=***|View log>");
        slack["fallback"]!.GetValue<string>().ShouldContain("could not sign with ***");
        var teams = JsonNode.Parse((await Chat.WaitForAsync("/teams/", 1)).ShouldHaveSingleItem().Body)!;
        teams["text"]!.GetValue<string>().ShouldContain("could not sign with \\*\\*\\*");
        var hook = JsonNode.Parse((await Chat.WaitForAsync("/hook", 1)).ShouldHaveSingleItem().Body)!;
        hook["description"]!.GetValue<string>().ShouldBe("could not sign with ***");
        hook["log_url"]!.GetValue<string>().ShouldBe("https://ci.example.com/log?key=***");
        hook["text"]!.GetValue<string>().ShouldContain("could not sign with ***");
        foreach (var request in Chat.Requests)
        {
            request.Body.ShouldNotContain(Secret);
        }
    }

    [Fact]
    public async Task ASecretInTheDeployersName_IsMaskedBeforeTheServiceEscapesIt()
    {
        // Escaped first, "&" would become "&amp;" in Slack and the secret would no longer be found.
        const string odd = "p&ss<word>-0123456789";
        var host = await StartAsync(new Dictionary<string, string?> { ["Providers:Dpl:Secrets:heroku:HEROKU_API_KEY"] = odd }, Slack);
        var body = JsonNode.Parse(Fixtures.Read("deployment-success.json"))!;
        body["deployment"]!["payload"]!["notify"]!["user"] = odd;

        (await host.SendWebhookAsync("deployment_status", body.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var slack = JsonNode.Parse((await Chat.WaitForAsync("/slack/", 1)).ShouldHaveSingleItem().Body)!["attachments"]![0]!;
        slack["text"]!.GetValue<string>().ShouldStartWith("*** deployed ");
        slack["fallback"]!.GetValue<string>().ShouldStartWith("*** deployed ");
    }
}
