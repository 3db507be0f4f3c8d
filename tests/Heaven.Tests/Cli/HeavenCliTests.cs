using System.Net;
using System.Text.Json;
using Heaven.Cli;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Cli;

/// <summary>The <c>heaven</c> command as a new user meets it: mistakes are named, help and version answer, nothing is created by accident.</summary>
public sealed class HeavenCliTests
{
    [Theory]
    [InlineData(new[] { "--taks" }, "heaven serve: '--taks' is not an option of heaven serve.", "Usage: heaven [serve]")]
    [InlineData(new[] { "outbox", "--problem" }, "heaven outbox: '--problem' is not an option of heaven outbox.", "Usage: heaven outbox [--problems] [--limit N]")]
    [InlineData(new[] { "deliveries", "--limit", "abc" }, "heaven deliveries: --limit must be a whole number of at least 1; got 'abc'.", "Usage: heaven deliveries [--limit N]")]
    [InlineData(new[] { "deliveries", "--limit", "0" }, "heaven deliveries: --limit must be a whole number of at least 1; got '0'.", "Usage: heaven deliveries [--limit N]")]
    [InlineData(new[] { "deliveries", "--limit" }, "heaven deliveries: --limit needs a value.", "Usage: heaven deliveries [--limit N]")]
    [InlineData(new[] { "cancel" }, "heaven cancel: <id|gh:ID> is missing.", "Usage: heaven cancel <id|gh:ID> [--by NAME]")]
    [InlineData(new[] { "cancel", "12", "13" }, "heaven cancel: '13' is one argument too many.", "Usage: heaven cancel")]
    [InlineData(new[] { "cancel", "github:12" }, "heaven cancel: 'github:12' is not a deployment: give Heaven's id (123) or GitHub's deployment id as gh:ID (gh:456789).", "Usage: heaven cancel")]
    [InlineData(new[] { "lock", "octo/app", "production" }, "heaven lock: --reason is required", "Usage: heaven lock <owner/repo> <environment> --reason TEXT")]
    [InlineData(new[] { "unlock", "app", "production" }, "heaven unlock: 'app' is not a repository: write it owner/repo.", "Usage: heaven unlock")]
    [InlineData(new[] { "locks", "--problems" }, "heaven locks: '--problems' is not an option of heaven locks.", "Usage: heaven locks")]
    [InlineData(new[] { "drain", "--al" }, "heaven drain: '--al' is not an option of heaven drain.", "Usage: heaven drain [--all] [--by NAME]")]
    [InlineData(new[] { "resume", "now" }, "heaven resume: 'now' is one argument too many.", "Usage: heaven resume [--all]")]
    [InlineData(new[] { "version", "--DataDirectory", "x" }, "heaven version: '--DataDirectory' is not an option of heaven version.", "Usage: heaven --version")]
    public async Task AMistakeOnTheCommandLine_IsNamed_WithTheUsage_AndExitCode2(string[] args, string message, string usage)
    {
        using var directory = new TemporaryDirectory();

        // The data directory exists, so only the mistake is left to find.
        string[] withData = args[0].StartsWith('-') ? [.. args, "--DataDirectory", directory.Path] : [args[0], "--DataDirectory", directory.Path, .. args[1..]];

        var (exit, output, error) = await RunAsync(withData);

        exit.ShouldBe(2, error);
        output.ShouldBeEmpty();
        var lines = error.Split('\n');
        lines[0].ShouldStartWith(message);
        lines[1].ShouldStartWith(usage);
    }

    [Fact]
    public async Task AnUnknownCommand_SaysSo()
    {
        var (exit, _, error) = await RunAsync("deploy-everything");

        exit.ShouldBe(2);
        error.ShouldBe("heaven: 'deploy-everything' is not a command. Run 'heaven --help' for the list.\n");
    }

    [Theory]
    [InlineData("--version")]
    [InlineData("version")]
    public async Task Version_PrintsTheInformationalVersion_AndStartsNothing(string how)
    {
        var (exit, output, error) = await RunAsync(how);

        exit.ShouldBe(0, error);
        var version = typeof(HeavenCli).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .Cast<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion;
        output.ShouldBe($"heaven {version}\n");
    }

    [Fact]
    public async Task Help_ListsEveryCommand()
    {
        var (exit, output, _) = await RunAsync("--help");

        exit.ShouldBe(0);
        foreach (var usage in new[] { "heaven [serve]", "heaven deliveries [--limit N]", "heaven outbox [--problems] [--limit N]", "heaven log <id|gh:ID> [--follow]", "heaven cancel <id|gh:ID> [--by NAME]", "heaven locks", "heaven lock <owner/repo> <environment> --reason TEXT [--expires-in MINUTES] [--by NAME]", "heaven unlock <owner/repo> <environment>", "heaven rotate-log-links", "heaven drain [--all] [--by NAME]", "heaven resume [--all]", "heaven autodeploy-log <owner/repo> [--limit N]", "heaven deploy-local <path>", "heaven --version" })
        {
            output.ShouldContain($"\n  {usage}");
        }
    }

    [Theory]
    [InlineData("cancel", "--help")]
    [InlineData("cancel", "-h")]
    [InlineData("help", "cancel")]
    public async Task ACommandsHelp_GivesItsUsageOptionsAndWhatItDoes(string first, string second)
    {
        var (exit, output, error) = await RunAsync(first, second);

        exit.ShouldBe(0, error);
        var lines = output.Split('\n');
        lines[0].ShouldBe("Usage: heaven cancel <id|gh:ID> [--by NAME]");
        lines[2].ShouldBe("Cancel a queued or running deployment.");
        output.ShouldContain("  <id|gh:ID>           Heaven's deployment id (123), or GitHub's deployment id written gh:ID (gh:456789)\n");
        output.ShouldContain("  --by NAME            who cancels");
        output.ShouldContain("  --help, -h           show this help\n");
    }

    [Theory]
    [InlineData("deliveries")]
    [InlineData("outbox")]
    [InlineData("locks")]
    [InlineData("cancel", "12")]
    [InlineData("log", "gh:12")]
    [InlineData("rotate-log-links")]
    [InlineData("drain")]
    [InlineData("resume", "--all")]
    public async Task AnOperatorCommand_OnAMissingDataDirectory_SaysHowToPointAtTheRightOne_AndCreatesNothing(params string[] command)
    {
        using var directory = new TemporaryDirectory();
        var missing = Path.Combine(directory.Path, "data");

        var (exit, output, error) = await RunAsync([.. command, "--DataDirectory", missing]);

        exit.ShouldBe(2);
        output.ShouldBeEmpty();
        error.ShouldStartWith($"heaven: there is no data directory at {missing}. Operator commands read a Heaven server's data directory and never create one: point at the server's with --DataDirectory DIR or HEAVEN_DATA_DIR=DIR");
        Directory.Exists(missing).ShouldBeFalse();
        Directory.EnumerateFileSystemEntries(directory.Path).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("123", 123L, false)]
    [InlineData("gh:456789", 456789L, true)]
    [InlineData("GH:7", 7L, true)]
    public void ADeploymentReference_IsHeavensIdOrGitHubsMarkedGh(string text, long id, bool gitHub)
    {
        DeploymentReference.Parse(text).ShouldBe(new DeploymentReference(id, gitHub));
        DeploymentReference.Parse(text).ToString().ShouldBe(gitHub ? $"gh:{id}" : text);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("gh:")]
    [InlineData("gh:x1")]
    [InlineData("#12")]
    [InlineData("12 ")]
    public void ANumberThatIsNoDeployment_IsRefused(string text) =>
        Should.Throw<UsageException>(() => DeploymentReference.Parse(text)).Message.ShouldContain("is not a deployment");

    [Fact]
    public void Settings_PassThroughAsTheServerTakesThem_AndNothingElseDoes()
    {
        var parsed = CommandLine.Parse(DeliveriesCommand.Command, ["--GitHub:Token=abc", "--Webhooks:Secret", "s3", "--DataDirectory", "/srv/heaven", "--limit=5", "--Logging:LogLevel:Default=-x"]);

        parsed.Settings.ShouldBe(["--GitHub:Token=abc", "--Webhooks:Secret=s3", "--DataDirectory=/srv/heaven", "--Logging:LogLevel:Default=-x"]);
        parsed.Number("--limit", 20).ShouldBe(5);
        Should.Throw<UsageException>(() => CommandLine.Parse(DeliveriesCommand.Command, ["--urls", "http://127.0.0.1:1"]))
            .Message.ShouldBe("'--urls' is not an option of heaven deliveries.");
        CommandLine.Parse(ServeCommand.Command, ["--urls", "http://127.0.0.1:1"]).Settings.ShouldBe(["--urls=http://127.0.0.1:1"]);
        Should.Throw<UsageException>(() => CommandLine.Parse(OutboxCommand.Command, ["--problems=yes"])).Message.ShouldBe("--problems takes no value.");
    }

    [Fact]
    public void ATable_LinesUpEveryColumn_HeaderIncluded()
    {
        using var output = new StringWriter();

        new TableWriter("ID", "KIND", "MESSAGE")
            .Add("1", "post_deployment_status", "done")
            .Add("12345678", "notify:slack", "Slack answered 404\nNot Found")
            .WriteTo(output);

        output.ToString().ShouldBe(
            "ID        KIND                    MESSAGE\n" +
            "1         post_deployment_status  done\n" +
            "12345678  notify:slack            Slack answered 404 Not Found\n");
    }

    [Fact]
    public async Task Cancel_TakesHeavensIdOrGitHubsId()
    {
        await using var host = await HeavenTestHost.StartAsync();
        using var repository = new TestRepository();
        var sha = repository.CommitDeployScript("echo deployed");
        var first = await QueueAsync(host, DeploymentWebhook.For(repository, sha));
        var second = await QueueAsync(host, DeploymentWebhook.For(repository, sha, environment: "staging"));

        var byGitHub = await RunAsync("cancel", $"gh:{second.GitHubId}", "--by", "carol", "--DataDirectory", host.DataDirectory);
        var byHeaven = await RunAsync("cancel", first.HeavenId.ToString(System.Globalization.CultureInfo.InvariantCulture), "--DataDirectory", host.DataDirectory);
        var unknown = await RunAsync("cancel", "gh:99999999", "--DataDirectory", host.DataDirectory);

        byGitHub.Exit.ShouldBe(0, byGitHub.Error);
        byGitHub.Output.ShouldStartWith($"Deployment {second.HeavenId} had not started; it is cancelled (GitHub will show: error \"");
        byGitHub.Output.ShouldContain("carol");
        byHeaven.Exit.ShouldBe(0, byHeaven.Error);
        byHeaven.Output.ShouldStartWith($"Deployment {first.HeavenId} had not started; it is cancelled");
        unknown.Exit.ShouldBe(1);
        unknown.Error.ShouldBe("There is no deployment with GitHub deployment id 99999999 (gh:99999999).\n");
    }

    [Fact]
    public async Task Lock_LocksLikeChat_ListedInAnAlignedTable_AndSomeoneElsesLockStays()
    {
        await using var host = await HeavenTestHost.StartAsync();
        var data = host.DataDirectory;

        var locked = await RunAsync("lock", "octo/app", "production", "--reason", "database migration", "--by", "alice", "--DataDirectory", data);
        var timed = await RunAsync("lock", "octo/web", "staging", "--reason", "demo", "--expires-in", "90", "--by", "bob", "--DataDirectory", data);
        var taken = await RunAsync("lock", "octo/app", "production", "--reason", "mine now", "--by", "bob", "--DataDirectory", data);
        var listed = await RunAsync("locks", "--DataDirectory", data);

        locked.Exit.ShouldBe(0, locked.Error);
        locked.Output.ShouldBe("octo/app locked on production by alice, until unlocked ('heaven unlock'): database migration\n");
        timed.Exit.ShouldBe(0, timed.Error);
        timed.Output.ShouldStartWith("octo/web locked on staging by bob, until ");
        taken.Exit.ShouldBe(1);
        taken.Error.ShouldStartWith("octo/app is already locked on production by alice");
        var lines = listed.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Length.ShouldBe(3);
        lines[0].ShouldStartWith("REPOSITORY  ENVIRONMENT  LOCKED BY  LOCKED AT (UTC)   UNTIL (UTC)       REASON");
        lines[1].ShouldStartWith("octo/app    production   alice      ");
        lines[1].ShouldEndWith("  unlocked          database migration");
        lines[2].ShouldStartWith("octo/web    staging      bob        ");
        lines[2].ShouldEndWith("  demo");
        lines.Select(l => l.IndexOf("UNTIL", StringComparison.Ordinal) is var at && at >= 0 ? at : -1).First().ShouldBe(lines[1].IndexOf("unlocked", StringComparison.Ordinal));
    }

    internal static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter { NewLine = "\n" };
        using var error = new StringWriter { NewLine = "\n" };
        var exit = await HeavenCli.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    private static async Task<(long GitHubId, long HeavenId)> QueueAsync(HeavenTestHost host, (string Body, long GitHubId) webhook)
    {
        var response = await host.SendWebhookAsync("deployment", webhook.Body);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        answer.GetProperty("result").GetString().ShouldBe("accepted", answer.ToString());
        return (webhook.GitHubId, answer.GetProperty("deployment").GetInt64());
    }
}
