using System.Net;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Hosting;

/// <summary>The <c>heaven</c> executable as an operator meets it: start, crash, restart, commands.</summary>
[Collection(HeavyHostsCollection.Name)]
public sealed class HeavenProcessTests
{
    private const string Secret = "process-test-secret-0123456789";

    [Fact]
    public async Task AnAcknowledgedDeployment_SurvivesSigkillAndRestart()
    {
        using var directory = new TemporaryDirectory();
        var environment = new Dictionary<string, string>
        {
            ["HEAVEN_DATA_DIR"] = Path.Combine(directory.Path, "data"),
            ["GITHUB_WEBHOOK_SECRET"] = Secret,
        };
        var deliveryId = Guid.NewGuid().ToString();

        await using (var first = await HeavenProcess.StartAsync(environment))
        {
            var response = await first.Client.SendAsync(Webhook.Request("deployment", Fixtures.Read("deployment.json"), deliveryId, Secret));
            response.StatusCode.ShouldBe(HttpStatusCode.Accepted);

            // Killed the moment the answer is in: no graceful shutdown, no flush.
            await first.KillHardAsync();
        }

        await using var second = await HeavenProcess.StartAsync(environment);
        var again = await second.Client.SendAsync(Webhook.Request("deployment", Fixtures.Read("deployment.json"), deliveryId, Secret));
        again.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await again.Content.ReadAsStringAsync()).ShouldContain("already received");

        var (exitCode, output, _) = await HeavenProcess.RunAsync(environment, "deliveries");
        exitCode.ShouldBe(0);
        var line = output.Split('\n').Where(l => l.Contains(deliveryId)).ShouldHaveSingleItem();
        line.ShouldContain(" deployment ");
        line.ShouldContain(" accepted ");
        line.ShouldContain("atmos/my-robot");
    }

    [Fact]
    public async Task ADeployLeftRunningBySigkill_IsStoppedWhenHeavenStartsAgain_AndReportedLost()
    {
        using var directory = new TemporaryDirectory();
        using var repository = new TestRepository();
        await using var gitHub = await FakeGitHub.StartAsync();
        var pidFile = Path.Combine(directory.Path, "orphan.pid");
        // The deploy starts a long job and waits for it, as a real deploy waits for a migration.
        var sha = repository.CommitDeployScript($"sleep 300 &\necho $! > {pidFile}\nwait");
        var environment = ServerEnvironment(directory, gitHub);
        var (body, gitHubId) = DeploymentWebhook.For(repository, sha);

        int orphan;
        await using (var first = await HeavenProcess.StartAsync(environment))
        {
            (await first.Client.SendAsync(Webhook.Request("deployment", body, Guid.NewGuid().ToString(), Secret))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
            orphan = await WaitForPidAsync(pidFile);
            // Perhaps while in_progress is being sent: the restarted node hands that lease back at once.
            await first.KillHardAsync();
        }

        // The deploy ran in a session of its own: Heaven's death did not stop it. (That it is still
        // alive when the restarted Heaven looks is what that Heaven reports below: it finds and stops
        // both the deploy script and its job.)
        IsAlive(orphan).ShouldBeTrue("the deploy's job outlives a SIGKILLed Heaven");

        await using var second = await HeavenProcess.StartAsync(environment);

        await Poll.UntilAsync(() => !IsAlive(orphan), "the restarted Heaven to stop what its previous run left running", state: () => second.Output);
        var final = await gitHub.WaitForStatusAsync(s => s.DeploymentId == gitHubId && s.State == "error");

        final.Description.ShouldBe("Heaven lost the worker running this deployment");
        await second.WaitForOutputAsync("Stopped 2 deploy processes Heaven's previous run left running");
    }

    [IsolationFact]
    public async Task AnIsolatedDeployLeftRunningBySigkill_IsStoppedWhenHeavenStartsAgain_AndReportedLost()
    {
        using var directory = new TemporaryDirectory();
        using var repository = new TestRepository();
        using var probe = new Heaven.Tests.Execution.ProcessProbe();
        await using var gitHub = await FakeGitHub.StartAsync();
        // As the deploy user, in the sandbox: its pids mean nothing outside, so the probe is found by name.
        var sha = repository.CommitDeployScript($"{probe.Sleep()} &\nwait");
        var environment = ServerEnvironment(directory, gitHub);
        environment["Checkout__AllowLocalRepositories"] = "true";
        environment["Deployments__Isolation"] = "required";
        var (body, gitHubId) = DeploymentWebhook.For(repository, sha);

        await using (var first = await HeavenProcess.StartAsync(environment))
        {
            (await first.Client.SendAsync(Webhook.Request("deployment", body, Guid.NewGuid().ToString(), Secret))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
            await probe.StartedAsync();
            await first.KillHardAsync();
        }

        probe.Running().ShouldNotBeEmpty("the isolated deploy outlives a SIGKILLed Heaven");

        await using var second = await HeavenProcess.StartAsync(environment);

        await probe.GoneAsync();
        var final = await gitHub.WaitForStatusAsync(s => s.DeploymentId == gitHubId && s.State == "error");
        final.Description.ShouldBe("Heaven lost the worker running this deployment");
        // And its folder, with the checkout, is gone too.
        Directory.GetFileSystemEntries(Path.Combine(directory.Path, "data-work")).ShouldBeEmpty();
    }

    [Fact]
    public async Task HeavenStartedWithInterruptsIgnored_StillLetsADeployScriptTrapTheSigintOfACancel()
    {
        using var directory = new TemporaryDirectory();
        using var repository = new TestRepository();
        await using var gitHub = await FakeGitHub.StartAsync();
        var readyFile = Path.Combine(directory.Path, "ready");
        var trappedFile = Path.Combine(directory.Path, "trapped");
        var sha = repository.CommitDeployScript($"trap 'wait; echo cleaned up > {trappedFile}; exit 0' INT\necho ready > {readyFile}\n{ScriptGate.UntilTrapped}");
        var environment = ServerEnvironment(directory, gitHub);
        var (body, gitHubId) = DeploymentWebhook.For(repository, sha);

        // As `heaven &` from a script: Heaven itself runs with SIGINT and SIGQUIT ignored.
        await using var heaven = await HeavenProcess.StartInBackgroundAsync(environment);
        (await heaven.Client.SendAsync(Webhook.Request("deployment", body, Guid.NewGuid().ToString(), Secret))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        await Poll.UntilAsync(() => File.Exists(readyFile), "the deploy script to set its trap and start waiting", state: () => heaven.Output);

        var (exitCode, _, error) = await HeavenProcess.RunAsync(environment, "cancel", $"gh:{gitHubId}", "--by", "alice");
        exitCode.ShouldBe(0, error);

        var final = await gitHub.WaitForStatusAsync(s => s.DeploymentId == gitHubId && s.State is "error" or "failure" or "success");
        final.Description.ShouldBe("Cancelled by alice");
        File.Exists(trappedFile).ShouldBeTrue("the script's INT trap ran: the cancel's SIGINT reached it with its default disposition");
        File.ReadAllText(trappedFile).Trim().ShouldBe("cleaned up");
    }

    /// <summary>A server on its own data directory, posting to <paramref name="gitHub"/>, without gists.</summary>
    private static Dictionary<string, string> ServerEnvironment(TemporaryDirectory directory, FakeGitHub gitHub) => new()
    {
        ["HEAVEN_DATA_DIR"] = Path.Combine(directory.Path, "data"),
        ["GITHUB_WEBHOOK_SECRET"] = Secret,
        ["GitHub__ApiUrl"] = gitHub.ApiUrl,
        ["GitHub__Token"] = "process-test-token",
        ["Output__MirrorToGist"] = "false",
    };

    private static async Task<int> WaitForPidAsync(string path) =>
        (await Poll.ForAsync(
            () => File.Exists(path) && int.TryParse(File.ReadAllText(path).Trim(), out var pid) ? pid : (int?)null,
            pid => pid is not null,
            "the deploy to start its job and write its pid"))!.Value;

    /// <summary>Alive: in /proc and not a zombie (an orphan's zombie waits for whoever adopts it to reap it).</summary>
    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    [Fact]
    public async Task ASecondServerOnTheSameDataDirectory_RefusesToStart_AndTheFirstRunsOn()
    {
        using var directory = new TemporaryDirectory();
        var environment = new Dictionary<string, string>
        {
            ["HEAVEN_DATA_DIR"] = Path.Combine(directory.Path, "data"),
            ["GITHUB_WEBHOOK_SECRET"] = Secret,
        };
        await using var first = await HeavenProcess.StartAsync(environment);

        var (exitCode, output, error) = await HeavenProcess.RunAsync(environment, "serve", "--urls", "http://127.0.0.1:0");

        StartupFailure.ShouldBeOneLine(exitCode, output, error, $"Another Heaven server (process {first.Id}) is running with the data directory {Path.Combine(directory.Path, "data")}.");
        error.ShouldContain("Each server needs a data directory of its own");
        (await first.Client.GetAsync("/healthz")).StatusCode.ShouldBe(HttpStatusCode.OK);
        // Operator commands share the directory with the running server.
        (await HeavenProcess.RunAsync(environment, "deliveries")).ExitCode.ShouldBe(0);
    }

    [Fact]
    public async Task Start_PrintsTheWebhookUrlTheSecretsLocationAndWhatIsMissing()
    {
        using var directory = new TemporaryDirectory();
        var data = Path.Combine(directory.Path, "data");

        await using var heaven = await HeavenProcess.StartAsync(new Dictionary<string, string>
        {
            ["HEAVEN_DATA_DIR"] = data,
            ["Heaven__PublicUrl"] = "https://heaven.example.com/",
        });

        // The last part of the start report.
        await heaven.WaitForOutputAsync("Use a token that may write deployments and gists, from a file named by GitHub:TokenFile (or GITHUB_TOKEN_FILE) or in the environment, never on the command line.");
        var output = heaven.Output;
        output.ShouldContain("Payload URL      https://heaven.example.com/events");
        output.ShouldContain($"the contents of {Path.Combine(data, "webhook-secret")}");
        output.ShouldContain("generated just now");
        output.ShouldContain("GitHub:Token (or GITHUB_TOKEN) is not set");
        // Log lines say when, in UTC; the start report is Heaven's own text and stays as it is.
        output.Split('\n').ShouldContain(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info: Heaven\."));
        output.ShouldContain("\nHeaven is running.\n");
        output.ShouldNotContain(File.ReadAllText(Path.Combine(data, "webhook-secret")).Trim());
        (await heaven.Client.GetAsync("/healthz")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task AWrongSetting_ExitsWithAMessageNamingIt()
    {
        using var directory = new TemporaryDirectory();

        var (exitCode, output, error) = await HeavenProcess.RunAsync(new Dictionary<string, string>
        {
            ["HEAVEN_DATA_DIR"] = Path.Combine(directory.Path, "data"),
            ["DEPLOYMENT_TIMEOUT"] = "five minutes",
        });

        StartupFailure.ShouldBeOneLine(exitCode, output, error, "Deployments:Timeout (or DEPLOYMENT_TIMEOUT) must be a whole number; got 'five minutes'.");
    }

    [Fact]
    public async Task Help_ListsTheCommands()
    {
        var (exitCode, output, _) = await HeavenProcess.RunAsync(new Dictionary<string, string>(), "--help");

        exitCode.ShouldBe(0);
        output.ShouldContain("heaven [serve]");
        output.ShouldContain("heaven deliveries");
        output.ShouldContain("heaven log <id|gh:ID> [--follow]");
    }

    [Fact]
    public async Task AnUnknownCommand_SaysSo()
    {
        var (exitCode, _, error) = await HeavenProcess.RunAsync(new Dictionary<string, string>(), "deploy-everything");

        exitCode.ShouldBe(2);
        error.ShouldContain("'deploy-everything' is not a command");
    }
}
