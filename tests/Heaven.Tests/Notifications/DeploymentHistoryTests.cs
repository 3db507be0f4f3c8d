using System.Net;
using System.Text.Json.Nodes;
using Heaven.Configuration;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;

namespace Heaven.Tests.Notifications;

/// <summary>
/// What GitHub's deployment history adds to a message: a compare link against the previous deployment
/// when a deploy starts, and the commits shipped when it succeeds (with the setting on). Without it,
/// or when GitHub fails, the message goes out as it is.
/// </summary>
public sealed class DeploymentHistoryTests : NotificationTestBase
{
    private const string Repository = "atmos/my-robot";
    private const string PreviousSha = "1111111a2b3c4d5e6f708192a3b4c5d6e7f80911";
    private const string OtherSha = "4444444a2b3c4d5e6f708192a3b4c5d6e7f80944";
    private const string Compare = Repo + "/compare/1111111...daf8192";
    private const string C1 = "aaaaaaa1b2c3d4e5f60718293a4b5c6d7e8f9011";
    private const string C2 = "bbbbbbb1b2c3d4e5f60718293a4b5c6d7e8f9022";
    private const string C3 = "ccccccc1b2c3d4e5f60718293a4b5c6d7e8f9033";
    private const string Rooms = """{"rooms":[{"id":1002,"name":"danger"}]}""";

    private FakeGitHub gitHub = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        gitHub = await FakeGitHub.StartAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await gitHub.DisposeAsync();
    }

    [Fact]
    public async Task Started_LinksTheComparisonWithThePreviousDeployment_InEveryService()
    {
        gitHub.AddDeployment(Repository, PreviousSha, "production", null, "main", "in_progress", "success");
        gitHub.AddDeployment(Repository, OtherSha, "staging", null, "main", "success");
        // An earlier attempt at the same sha is no "previous deployment": there is nothing to compare.
        gitHub.AddDeployment(Repository, Sha, "production", null, "main", "failure");
        var current = gitHub.AddDeployment(Repository, Sha, "production", null, "break-up-notifiers", "pending");
        // A newer deployment, queued behind this one, is not what this one is compared with.
        gitHub.AddDeployment(Repository, OtherSha, "production", null, "main");
        Chat.Respond("/campfire/rooms.json", 200, Rooms);
        var host = await StartAsync(GitHub(), Slack, Teams, Discord, HipChat, Webhook, Campfire());

        (await host.SendWebhookAsync("deployment_status", Event("deployment-pending.json", current))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        const string Sentence = "atmos is deploying atmos/my-robot/break-up-notifiers (daf8192) to production.";
        const string Markdown = $"atmos is deploying [atmos/my-robot]({Repo})/[break-up-notifiers]({Tree}) ([daf8192]({Commit})) to production. [View log]({Log}) · [Compare 1111111...daf8192]({Compare})";
        var slack = JsonNode.Parse((await Chat.WaitForAsync("/slack/", 1)).ShouldHaveSingleItem().Body)!["attachments"]![0]!;
        slack["text"]!.GetValue<string>().ShouldBe($"atmos is deploying <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production. <{Log}|View log> · <{Compare}|Compare 1111111...daf8192>");
        slack["fallback"]!.GetValue<string>().ShouldBe($"{Sentence} View log · Compare 1111111...daf8192");
        JsonNode.Parse((await Chat.WaitForAsync("/teams/", 1)).ShouldHaveSingleItem().Body)!["text"]!.GetValue<string>().ShouldBe(Markdown);
        JsonNode.Parse((await Chat.WaitForAsync("/discord/", 1)).ShouldHaveSingleItem().Body)!["embeds"]![0]!["description"]!.GetValue<string>().ShouldBe(Markdown);
        JsonNode.Parse((await Chat.WaitForAsync("/hipchat/", 1)).ShouldHaveSingleItem().Body)!["message"]!.GetValue<string>()
            .ShouldBe($"atmos is deploying <a href=\"{Repo}\">atmos/my-robot</a>/<a href=\"{Tree}\">break-up-notifiers</a> (<a href=\"{Commit}\">daf8192</a>) to production. <a href=\"{Log}\">View log</a> &#183; <a href=\"{Compare}\">Compare 1111111...daf8192</a>");
        ShouldEqual(JsonNode.Parse((await Chat.WaitForAsync("/campfire/room/", 1)).ShouldHaveSingleItem().Body), new JsonObject
        {
            ["message"] = new JsonObject
            {
                ["body"] = $"{Sentence} View log: {Log} · Compare 1111111...daf8192: {Compare}",
                ["type"] = "TextMessage",
            },
        });
        var hook = JsonNode.Parse((await Chat.WaitForAsync("/hook", 1)).ShouldHaveSingleItem().Body)!;
        hook["previous_sha"]!.GetValue<string>().ShouldBe(PreviousSha);
        hook["compare_url"]!.GetValue<string>().ShouldBe(Compare);
        hook["text"]!.GetValue<string>().ShouldBe($"{Sentence} View log · Compare 1111111...daf8192");

        // One look at GitHub for the six services.
        var lookups = gitHub.RequestsTo("deployments-list");
        lookups.Count.ShouldBe(1);
        lookups[0].Path.ShouldBe("/repos/atmos/my-robot/deployments");
        lookups[0].Query.ShouldBe("?per_page=10&environment=production");
    }

    [Fact]
    public async Task Started_WithoutAnEarlierDeployment_HasNoLink()
    {
        var current = gitHub.AddDeployment(Repository, Sha, "production", null, "break-up-notifiers", "pending");
        gitHub.AddDeployment(Repository, PreviousSha, "staging", null, "main", "success");
        var host = await StartAsync(GitHub(), Slack);

        (await host.SendWebhookAsync("deployment_status", Event("deployment-pending.json", current))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        JsonNode.Parse((await Chat.WaitForAsync("/slack/", 1)).ShouldHaveSingleItem().Body)!["attachments"]![0]!["text"]!.GetValue<string>()
            .ShouldBe($"atmos is deploying <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production. <{Log}|View log>");
        gitHub.RequestsTo("deployments-list").Count.ShouldBe(1);
    }

    [Fact]
    public async Task Started_WhenGitHubFails_GoesOutAtOnce_WithoutTheLink()
    {
        gitHub.AddDeployment(Repository, PreviousSha, "production", null, "main", "success");
        var current = gitHub.AddDeployment(Repository, Sha, "production", null, "break-up-notifiers", "pending");
        gitHub.FailNext("deployments-list", 502, times: 100);
        var host = await StartAsync(GitHub(), Slack);

        (await host.SendWebhookAsync("deployment_status", Event("deployment-pending.json", current))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        JsonNode.Parse((await Chat.WaitForAsync("/slack/", 1)).ShouldHaveSingleItem().Body)!["attachments"]![0]!["text"]!.GetValue<string>()
            .ShouldBe($"atmos is deploying <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production. <{Log}|View log>");
        var item = await WaitForItemAsync(host, "notify:slack", i => i.State != WorkItemState.Pending);
        (item.State, item.Attempts, item.LastError).ShouldBe((WorkItemState.Done, 1, null));
    }

    [Fact]
    public async Task WithoutAGitHubToken_NothingIsLookedUp()
    {
        gitHub.AddDeployment(Repository, PreviousSha, "production", null, "main", "success");
        var current = gitHub.AddDeployment(Repository, Sha, "production", null, "break-up-notifiers", "pending");
        var host = await StartAsync(new() { ["GitHub:ApiUrl"] = gitHub.ApiUrl, ["Notifications:DisplayCommits"] = "true" }, Slack);

        (await host.SendWebhookAsync("deployment_status", Event("deployment-pending.json", current))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await host.SendWebhookAsync("deployment_status", Event("deployment-success.json", current))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var sent = await Chat.WaitForAsync("/slack/", 2);
        sent.Count.ShouldBe(2);
        sent.ShouldAllBe(r => !r.Body.Contains("compare", StringComparison.Ordinal) && !r.Body.Contains("Total Commits", StringComparison.Ordinal));
        gitHub.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task Success_ListsTheCommitsShipped_InEveryService()
    {
        var current = SeedShippedCommits();
        Chat.Respond("/campfire/rooms.json", 200, Rooms);
        var host = await StartAsync(GitHub(), Slack, Teams, Discord, HipChat, Webhook, Campfire(), new()
        {
            ["Notifications:DisplayCommits"] = "true",
            ["Notifications:DisplayCommitsLimit"] = "2",
        });

        (await host.SendWebhookAsync("deployment_status", Event("deployment-success.json", current))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var slack = JsonNode.Parse((await Chat.WaitForAsync("/slack/", 1)).ShouldHaveSingleItem().Body)!["attachments"]![0]!;
        slack["text"]!.GetValue<string>().Split('\n').ShouldBe(
        [
            $"atmos deployed <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production. <{Log}|View log>",
            "Total Commits: 3",
            $"<{Repo}/commit/{C3}|ccccccc> by carol: Fix the login page",
            $"<{Repo}/commit/{C2}|bbbbbbb> by Dana Scully: Render &lt;b&gt; &amp; friends",
            $"… and <{Compare}|1 more commit>",
        ]);
        // Previews show the first line only.
        slack["fallback"]!.GetValue<string>().ShouldBe("atmos deployed atmos/my-robot/break-up-notifiers (daf8192) to production. View log");

        string[] markdown =
        [
            $"atmos deployed [atmos/my-robot]({Repo})/[break-up-notifiers]({Tree}) ([daf8192]({Commit})) to production. [View log]({Log})",
            "Total Commits: 3",
            $"[ccccccc]({Repo}/commit/{C3}) by carol: Fix the login page",
            $"[bbbbbbb]({Repo}/commit/{C2}) by Dana Scully: Render \\<b\\> & friends",
            $"… and [1 more commit]({Compare})",
        ];
        var teams = JsonNode.Parse((await Chat.WaitForAsync("/teams/", 1)).ShouldHaveSingleItem().Body)!;
        teams["text"]!.GetValue<string>().ShouldBe(string.Join("\n\n", markdown));
        teams["summary"]!.GetValue<string>().ShouldBe("atmos deployed atmos/my-robot/break-up-notifiers (daf8192) to production. View log");
        JsonNode.Parse((await Chat.WaitForAsync("/discord/", 1)).ShouldHaveSingleItem().Body)!["embeds"]![0]!["description"]!.GetValue<string>()
            .ShouldBe(string.Join("\n", markdown));
        JsonNode.Parse((await Chat.WaitForAsync("/hipchat/", 1)).ShouldHaveSingleItem().Body)!["message"]!.GetValue<string>().Split("<br>").ShouldBe(
        [
            $"atmos deployed <a href=\"{Repo}\">atmos/my-robot</a>/<a href=\"{Tree}\">break-up-notifiers</a> (<a href=\"{Commit}\">daf8192</a>) to production. <a href=\"{Log}\">View log</a>",
            "Total Commits: 3",
            $"<a href=\"{Repo}/commit/{C3}\">ccccccc</a> by carol: Fix the login page",
            $"<a href=\"{Repo}/commit/{C2}\">bbbbbbb</a> by Dana Scully: Render &lt;b&gt; &amp; friends",
            $"… and <a href=\"{Compare}\">1 more commit</a>",
        ]);
        ShouldEqual(JsonNode.Parse((await Chat.WaitForAsync("/campfire/room/", 1)).ShouldHaveSingleItem().Body), new JsonObject
        {
            ["message"] = new JsonObject
            {
                ["body"] = string.Join('\n',
                    $"atmos deployed atmos/my-robot/break-up-notifiers (daf8192) to production. View log: {Log}",
                    "Total Commits: 3",
                    "ccccccc by carol: Fix the login page",
                    "bbbbbbb by Dana Scully: Render <b> & friends",
                    $"… and 1 more commit: {Compare}"),
                // Several lines: a paste keeps them apart.
                ["type"] = "PasteMessage",
            },
        });
        var hook = JsonNode.Parse((await Chat.WaitForAsync("/hook", 1)).ShouldHaveSingleItem().Body)!;
        hook["total_commits"]!.GetValue<int>().ShouldBe(3);
        hook["compare_url"]!.GetValue<string>().ShouldBe(Compare);
        ShouldEqual(hook["commits"], new JsonArray(
            new JsonObject { ["sha"] = C3, ["message"] = "Fix the login page", ["author"] = "carol", ["url"] = $"{Repo}/commit/{C3}" },
            new JsonObject { ["sha"] = C2, ["message"] = "Render <b> & friends", ["author"] = "Dana Scully", ["url"] = $"{Repo}/commit/{C2}" }));
        hook["text"]!.GetValue<string>().ShouldBe("atmos deployed atmos/my-robot/break-up-notifiers (daf8192) to production. View log");

        // Compared with the last deployment that succeeded (since marked inactive), not the failed one after it.
        gitHub.RequestsTo("compare").ShouldHaveSingleItem().Path.ShouldBe($"/repos/atmos/my-robot/compare/{PreviousSha}...{Sha}");
    }

    [Fact]
    public async Task Success_ListsTenCommitsByDefault()
    {
        gitHub.AddDeployment(Repository, PreviousSha, "production", null, "main", "success");
        var current = gitHub.AddDeployment(Repository, Sha, "production", null, "break-up-notifiers", "in_progress");
        var commits = Enumerable.Range(1, 12).Select(i => new FakeCommit($"{i:d2}{new string('e', 38)}", $"Change number {i}", "alice")).ToArray();
        gitHub.SetCompare(Repository, PreviousSha, Sha, "ahead", 12, 0, commits);
        var host = await StartAsync(GitHub(), Slack, new() { ["Notifications:DisplayCommits"] = "yes" });

        (await host.SendWebhookAsync("deployment_status", Event("deployment-success.json", current))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var lines = JsonNode.Parse((await Chat.WaitForAsync("/slack/", 1)).ShouldHaveSingleItem().Body)!["attachments"]![0]!["text"]!.GetValue<string>().Split('\n');
        lines.Length.ShouldBe(13);
        lines[1].ShouldBe("Total Commits: 12");
        lines[2].ShouldBe($"<{Repo}/commit/12{new string('e', 38)}|12eeeee> by alice: Change number 12");
        lines[11].ShouldBe($"<{Repo}/commit/03{new string('e', 38)}|03eeeee> by alice: Change number 3");
        lines[12].ShouldBe($"… and <{Compare}|2 more commits>");
    }

    [Fact]
    public async Task Success_WithTheLegacyVariables()
    {
        var current = SeedShippedCommits();
        var host = await StartAsync(
            legacy: new Dictionary<string, string?> { ["HEAVEN_NOTIFIER_DISPLAY_COMMITS"] = "1", ["HEAVEN_NOTIFIER_DISPLAY_COMMITS_LIMIT"] = "1" },
            services: [GitHub(), Slack]);

        (await host.SendWebhookAsync("deployment_status", Event("deployment-success.json", current))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        JsonNode.Parse((await Chat.WaitForAsync("/slack/", 1)).ShouldHaveSingleItem().Body)!["attachments"]![0]!["text"]!.GetValue<string>().Split('\n')[1..].ShouldBe(
        [
            "Total Commits: 3",
            $"<{Repo}/commit/{C3}|ccccccc> by carol: Fix the login page",
            $"… and <{Compare}|2 more commits>",
        ]);
    }

    [Fact]
    public async Task Success_WithTheSettingOff_ListsNothing_AndAsksGitHubNothing()
    {
        var current = SeedShippedCommits();
        var host = await StartAsync(GitHub(), Slack);

        (await host.SendWebhookAsync("deployment_status", Event("deployment-success.json", current))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await host.SendWebhookAsync("deployment_status", Event("deployment-failure.json", current))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var sent = await Chat.WaitForAsync("/slack/", 2);
        JsonNode.Parse(sent[0].Body)!["attachments"]![0]!["text"]!.GetValue<string>()
            .ShouldBe($"atmos deployed <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production. <{Log}|View log>");
        gitHub.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task Success_WhenTheCompareFails_GoesOutWithoutTheList_AndIsNotRetried()
    {
        var current = SeedShippedCommits();
        gitHub.FailNext("compare", 500, times: 100);
        var host = await StartAsync(GitHub(), Slack, new() { ["Notifications:DisplayCommits"] = "true" });

        (await host.SendWebhookAsync("deployment_status", Event("deployment-success.json", current))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        JsonNode.Parse((await Chat.WaitForAsync("/slack/", 1)).ShouldHaveSingleItem().Body)!["attachments"]![0]!["text"]!.GetValue<string>()
            .ShouldBe($"atmos deployed <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production. <{Log}|View log>");
        var item = await WaitForItemAsync(host, "notify:slack", i => i.State != WorkItemState.Pending);
        (item.State, item.Attempts, item.LastError).ShouldBe((WorkItemState.Done, 1, null));
        gitHub.RequestsTo("compare").Count.ShouldBe(1);
    }

    [Fact]
    public async Task Success_WithoutAnEarlierSuccess_ListsNothing()
    {
        gitHub.AddDeployment(Repository, PreviousSha, "production", null, "main", "in_progress", "failure");
        var current = gitHub.AddDeployment(Repository, Sha, "production", null, "break-up-notifiers", "in_progress");
        var host = await StartAsync(GitHub(), Slack, new() { ["Notifications:DisplayCommits"] = "true" });

        (await host.SendWebhookAsync("deployment_status", Event("deployment-success.json", current))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        JsonNode.Parse((await Chat.WaitForAsync("/slack/", 1)).ShouldHaveSingleItem().Body)!["attachments"]![0]!["text"]!.GetValue<string>()
            .ShouldBe($"atmos deployed <{Repo}|atmos/my-robot>/<{Tree}|break-up-notifiers> (<{Commit}|daf8192>) to production. <{Log}|View log>");
        gitHub.RequestsTo("compare").ShouldBeEmpty();
    }

    [Fact]
    public async Task BadSettings_StopTheStart()
    {
        var problem = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Notifications:DisplayCommits"] = "sometimes",
            ["Notifications:DisplayCommitsLimit"] = "0",
        }));

        problem.Message.ShouldContain("Notifications:DisplayCommits (or HEAVEN_NOTIFIER_DISPLAY_COMMITS) must be true or false (1 or 0); got 'sometimes'.");
        problem.Message.ShouldContain("Notifications:DisplayCommitsLimit (or HEAVEN_NOTIFIER_DISPLAY_COMMITS_LIMIT) must be between 1 and 100; got 0.");
    }

    /// <summary>
    /// production: a deployment that succeeded (marked inactive since), a later one that failed, and
    /// the current one; three commits between the successful one and this sha. Returns the current id.
    /// </summary>
    private long SeedShippedCommits()
    {
        gitHub.AddDeployment(Repository, PreviousSha, "production", null, "main", "in_progress", "success", "inactive");
        gitHub.AddDeployment(Repository, OtherSha, "production", null, "main", "in_progress", "failure");
        var current = gitHub.AddDeployment(Repository, Sha, "production", null, "break-up-notifiers", "in_progress");
        gitHub.SetCompare(Repository, PreviousSha, Sha, "ahead", 3, 0,
            new FakeCommit(C1, "Add the robot's arm\n\nIt waves now.", "alice"),
            new FakeCommit(C2, "Render <b> & friends", null, "Dana Scully"),
            new FakeCommit(C3, "Fix the login page\n", "carol"));
        return current;
    }

    /// <summary>A fixture as the status of the deployment GitHub knows by <paramref name="deploymentId"/>.</summary>
    private static string Event(string fixture, long deploymentId)
    {
        var body = JsonNode.Parse(Fixtures.Read(fixture))!;
        body["deployment"]!["id"] = deploymentId;
        return body.ToJsonString();
    }

    private Dictionary<string, string?> GitHub() => new()
    {
        ["GitHub:Token"] = "ghp_historytoken0123456789abcdefABCDEF01",
        ["GitHub:ApiUrl"] = gitHub.ApiUrl,
        ["GitHub:RequestTimeout"] = "00:00:05",
    };

    private Dictionary<string, string?> Campfire() => new()
    {
        ["Notifications:Campfire:Token"] = "campfire-api-token-1234",
        ["Notifications:Campfire:Url"] = Chat.Url("/campfire"),
    };
}
