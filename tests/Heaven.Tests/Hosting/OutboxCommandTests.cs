using System.Net;
using Heaven.Tests.Infrastructure;
using Heaven.Tests.Notifications;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Tests.Hosting;

/// <summary><c>heaven outbox</c>: what Heaven still owes the chat services and GitHub, and why.</summary>
[Collection(HeavyHostsCollection.Name)]
public sealed class OutboxCommandTests
{
    [Fact]
    public async Task Outbox_ShowsEachItemsAttemptsAndLastError_AndProblemsAlone()
    {
        await using var chat = await FakeChat.StartAsync();
        // Slack refuses for good (a revoked webhook); Teams is down for now.
        chat.FailNext("/slack/", 404, times: 1000);
        chat.FailNext("/teams/", 503, times: 1000);
        await using var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Notifications:Slack:WebhookUrl"] = chat.Url("/slack/T000/B000/XXXX"),
            ["Notifications:Teams:WebhookUrl"] = chat.Url("/teams/webhook"),
            ["Notifications:Delivery:PollInterval"] = "00:00:00.050",
            ["Notifications:Delivery:RetryBase"] = "00:01:00",
            ["Notifications:Delivery:RetryCap"] = "00:05:00",
        });
        (await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-success.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        await WaitAsync(host, async db =>
            await db.WorkItems.CountAsync(w => w.Kind == "notify:slack" && w.State == WorkItemState.Failed) == 1
            && await db.WorkItems.CountAsync(w => w.Kind == "notify:teams" && w.LastError != null) == 1);
        var environment = new Dictionary<string, string>
        {
            ["HEAVEN_DATA_DIR"] = host.DataDirectory,
            ["GITHUB_WEBHOOK_SECRET"] = HeavenTestHost.Secret,
        };

        var (exit, output, error) = await HeavenProcess.RunAsync(environment, "outbox");
        var (problemsExit, problems, _) = await HeavenProcess.RunAsync(environment, "outbox", "--problems");

        exit.ShouldBe(0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines[0].ShouldStartWith("ID ");
        // Columns line up: each header starts where its column's cells start.
        var about = lines[0].IndexOf("ABOUT", StringComparison.Ordinal);
        lines.Skip(1).ShouldAllBe(l => l.Substring(about).StartsWith("deployment gh:11627 success \"Deploying from Heaven v0.5.5\""));
        var kind = lines[0].IndexOf("KIND", StringComparison.Ordinal);
        lines.Skip(1).ShouldAllBe(l => l[kind - 1] == ' ' && l[kind] != ' ');
        lines.ShouldContain(l => l.Contains(" deployment_status ") && l.Contains(" atmos/my-robot ") && l.Contains(" done "));
        var slack = lines.Single(l => l.Contains(" notify:slack "));
        slack.ShouldContain(" failed ");
        slack.ShouldContain("Slack answered 404 Not Found");
        var teams = lines.Single(l => l.Contains(" notify:teams "));
        teams.ShouldContain(" waiting ");
        teams.ShouldContain("next attempt ");
        teams.ShouldContain("Teams answered 503 Service Unavailable");
        problemsExit.ShouldBe(0);
        problems.ShouldContain(" notify:slack ");
        problems.ShouldContain(" notify:teams ");
        problems.ShouldNotContain(" deployment_status ");
        // Webhook URLs are secrets: the errors name the service and the status, never the address.
        output.ShouldNotContain("/slack/T000");
        output.ShouldNotContain("127.0.0.1");
    }

    private static Task WaitAsync(HeavenTestHost host, Func<Heaven.Storage.HeavenDbContext, Task<bool>> condition) =>
        Poll.UntilAsync(() => host.QueryAsync(condition), "the outbox to reach the expected state");
}
