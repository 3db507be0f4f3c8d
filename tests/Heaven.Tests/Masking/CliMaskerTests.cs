using System.Net;
using Heaven.Cli;
using Heaven.Masking;
using Heaven.Tests.Infrastructure;
using Heaven.Tests.Notifications;
using Heaven.WorkItems;

namespace Heaven.Tests.Masking;

/// <summary>
/// What the <c>heaven</c> command prints ends up in terminals, CI logs and support tickets: every
/// line goes through the server's masker, whatever stored text it shows.
/// </summary>
public sealed class CliMaskerTests : NotificationTestBase
{
    private const string HipChatToken = "hipchat-token-0123456789";

    [Fact]
    public async Task Outbox_ShowsAStoredErrorThatQuotesASecret_WithStars()
    {
        // HipChat quotes the token it refused; the error is stored as the item's last error.
        Chat.Respond("/hipchat", 401, $"{{\"error\":{{\"message\":\"Invalid OAuth token {HipChatToken}\"}}}}");
        var settings = new Dictionary<string, string?>
        {
            ["Notifications:HipChat:Token"] = HipChatToken,
            ["Notifications:HipChat:Room"] = "ops",
            ["Notifications:HipChat:Server"] = Chat.Url("/hipchat"),
        };
        var host = await StartAsync(settings);
        (await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-success.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var item = await WaitForItemAsync(host, "notify:hipchat", i => i.State == WorkItemState.Failed);
        item.LastError.ShouldNotBeNull().ShouldContain(HipChatToken);

        var (exit, output, error) = await HeavenProcess.RunAsync(
            new Dictionary<string, string>
            {
                ["HEAVEN_DATA_DIR"] = host.DataDirectory,
                ["GITHUB_WEBHOOK_SECRET"] = HeavenTestHost.Secret,
                ["Notifications__HipChat__Token"] = HipChatToken,
                ["Notifications__HipChat__Room"] = "ops",
            },
            "outbox");

        exit.ShouldBe(0, error);
        var line = output.Split('\n').Single(l => l.Contains(" notify:hipchat "));
        line.ShouldContain("HipChat answered 401 Unauthorized");
        line.ShouldContain("Invalid OAuth token ***");
        output.ShouldNotContain(HipChatToken);
    }

    [Fact]
    public void TheMaskingWriter_MasksWholeLines_EvenWhenASecretArrivesInPieces()
    {
        var masker = new SecretMasker();
        masker.Add("s3cret-value");
        var inner = new StringWriter { NewLine = "\n" };
        var writer = new MaskingWriter(inner) { NewLine = "\n" };

        writer.WriteLine("before the masker is known");
        writer.MaskWith(masker);
        writer.Write("key s3cr");
        writer.Write('e');
        writer.Write("t-val");
        writer.WriteLine("ue, done");
        writer.Write("last s3cret-value");
        inner.ToString().ShouldBe("before the masker is known\nkey ***, done\n");
        writer.Flush();

        inner.ToString().ShouldBe("before the masker is known\nkey ***, done\nlast ***");
    }
}
