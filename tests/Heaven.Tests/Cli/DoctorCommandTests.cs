using Heaven.Intake;
using Heaven.Tests.Infrastructure;
using Heaven.Tests.Notifications;

namespace Heaven.Tests.Cli;

/// <summary><c>heaven doctor</c>: one line per check, what to do when one fails, exit code 0 only when none did.</summary>
[Collection(HeavyHostsCollection.Name)]
public sealed class DoctorCommandTests
{
    private const string Token = "ghp_doctorTestToken0123456789abcdefABCDEF";
    private const string BotToken = "xoxb-doctor-test-bot-token-0123456789";

    [Fact]
    public async Task Doctor_OnAHealthyInstallation_SaysOkToEveryCheck_PostsNothing_AndExitsZero()
    {
        await using var github = await FakeGitHub.StartAsync();
        github.ServerToken = Token;
        github.ServerTokenScopes = "repo, gist, read:org";
        await using var chat = await FakeChat.StartAsync();
        chat.Respond("/slack/api/auth.test", 200, """{"ok":true,"team":"Octo Corp","user":"heaven"}""");
        await using var host = await HeavenTestHost.StartAsync();
        await host.QueryAsync(async db =>
        {
            db.Deliveries.Add(new Delivery { DeliveryId = "ping-1", Event = "ping", Repository = "octo/app", Message = "pong", ReceivedAt = DateTime.UtcNow.AddMinutes(-5) });
            return await db.SaveChangesAsync();
        });

        var (exit, output, error) = await HeavenCliTests.RunAsync(
            "doctor",
            "--DataDirectory", host.DataDirectory,
            $"--GitHub:Token={Token}",
            $"--GitHub:ApiUrl={github.ApiUrl}",
            "--Deployments:Isolation=none",
            $"--Notifications:Slack:BotToken={BotToken}",
            $"--Notifications:Slack:ApiUrl={chat.Url("/slack")}");

        exit.ShouldBe(0, output + error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.ShouldNotContain(l => l.StartsWith("FAIL", StringComparison.Ordinal), output);
        lines.ShouldContain($"ok    data directory: {host.DataDirectory} is private to Heaven's user (directories 0700, files 0600).");
        lines.ShouldContain("ok    settings: every setting is valid.");
        lines.ShouldContain("ok    database: Sqlite is reachable and up to date.");
        lines.ShouldContain($"ok    GitHub token: GitHub at {github.ApiUrl} takes the token of heaven-bot.");
        lines.ShouldContain("ok    GitHub scopes: gist, read:org, repo: enough for deployments, statuses, contents and gists.");
        lines.ShouldContain("ok    clock: within 30 s of GitHub's.");
        lines.ShouldContain(l => l.StartsWith("ok    webhook octo/app: newest delivery ", StringComparison.Ordinal) && l.EndsWith(" ago (ping, accepted).", StringComparison.Ordinal));
        lines.ShouldContain(l => l.StartsWith("ok    git: git version ", StringComparison.Ordinal));
        lines.ShouldContain(l => l.StartsWith("ok    ssh: OpenSSH", StringComparison.Ordinal));
        lines.ShouldContain(l => l.StartsWith("ok    disk space: ", StringComparison.Ordinal));
        lines.ShouldContain(l => l.StartsWith("ok    isolation: Deploys are not isolated (Deployments:Isolation=none)", StringComparison.Ordinal));
        lines.ShouldContain("ok    chat Slack bot: auth.test ok as heaven in Octo Corp.");
        lines[^1].ShouldBe("All checks passed.");
        output.ShouldNotContain(Token);
        output.ShouldNotContain(BotToken);
        // Asked, never posted: the one request to the chat service is Slack's auth.test.
        chat.Requests.Select(r => r.Path).ShouldBe(["/slack/api/auth.test"]);
        github.RequestsTo("user").ShouldHaveSingleItem();
        github.Requests.ShouldAllBe(r => r.Method == "GET");
    }

    [Fact]
    public async Task Doctor_OnABrokenInstallation_SaysWhatIsWrongAndWhatToDo_AndExitsOne()
    {
        await using var github = await FakeGitHub.StartAsync();
        github.ServerToken = "ghp_theTokenGitHubKnows0123456789abcdef";
        github.DateOffset = TimeSpan.FromMinutes(10);
        using var directory = new TemporaryDirectory();
        // Made by hand, readable by everyone, with a database file no Heaven has migrated.
        var data = Path.Combine(directory.Path, "data");
        Directory.CreateDirectory(data);
        File.SetUnixFileMode(data, (UnixFileMode)0b111_101_101);
        var database = Path.Combine(data, "heaven.db");
        await File.WriteAllBytesAsync(database, []);
        File.SetUnixFileMode(database, (UnixFileMode)0b110_100_100);
        // A PATH with git and nothing else: no ssh.
        var bin = Path.Combine(directory.Path, "bin");
        Directory.CreateDirectory(bin);
        File.CreateSymbolicLink(Path.Combine(bin, "git"), "/usr/bin/git");

        var (exit, output, error) = await HeavenProcess.RunAsync(
            new Dictionary<string, string>
            {
                ["PATH"] = bin,
                ["GITHUB_TOKEN"] = Token,
                ["GitHub__ApiUrl"] = github.ApiUrl,
                ["HEAVEN_DATA_DIR"] = data,
            },
            "doctor");

        exit.ShouldBe(1, output + error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.ShouldContain(l => l.StartsWith($"FAIL  data directory: {data} has mode 0755, not 0700. {database} has mode 0644, not 0600.", StringComparison.Ordinal));
        lines.ShouldContain(l => l.StartsWith("FAIL  database: Sqlite is reachable, and ", StringComparison.Ordinal) && l.Contains("migration(s) are not applied yet", StringComparison.Ordinal) && l.EndsWith("start 'heaven serve' of this version, which applies them.", StringComparison.Ordinal));
        lines.ShouldContain(l => l.StartsWith($"FAIL  GitHub token: GitHub at {github.ApiUrl} refused the token (401: Bad credentials)", StringComparison.Ordinal));
        lines.ShouldContain(l => l.StartsWith("FAIL  clock: 10 minutes behind GitHub's", StringComparison.Ordinal));
        lines.ShouldContain(l => l.StartsWith("FAIL  ssh: ssh is not found or does not run: install the OpenSSH client", StringComparison.Ordinal));
        lines.ShouldContain(l => l.StartsWith("ok    git: git version ", StringComparison.Ordinal));
        lines[^1].ShouldBe("5 check(s) failed.");
        output.ShouldNotContain(Token);
        // Checked, not repaired: the modes are as they were, the database as empty as it was.
        File.GetUnixFileMode(data).ShouldBe((UnixFileMode)0b111_101_101);
        new FileInfo(database).Length.ShouldBe(0);
    }

    [Fact]
    public async Task Doctor_WithAFineGrainedToken_SaysWhatCouldNotBeDetermined_RatherThanFailing()
    {
        await using var github = await FakeGitHub.StartAsync();
        github.ServerToken = Token;
        github.ServerTokenScopes = null;
        await using var host = await HeavenTestHost.StartAsync();

        var (_, output, _) = await HeavenCliTests.RunAsync("doctor", "--DataDirectory", host.DataDirectory, $"--GitHub:Token={Token}", $"--GitHub:ApiUrl={github.ApiUrl}");

        var lines = output.Split('\n');
        lines.ShouldContain(l => l.StartsWith("note  GitHub scopes: could not be determined: GitHub lists scopes only for classic tokens", StringComparison.Ordinal));
        lines.ShouldNotContain(l => l.StartsWith("FAIL  GitHub", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Doctor_NeverCreatesADataDirectory()
    {
        using var directory = new TemporaryDirectory();
        var missing = Path.Combine(directory.Path, "nowhere");

        var (exit, _, error) = await HeavenCliTests.RunAsync("doctor", "--DataDirectory", missing);

        exit.ShouldBe(2);
        error.ShouldContain($"there is no data directory at {missing}");
        Directory.Exists(missing).ShouldBeFalse();
    }
}
