using System.Text.Json.Nodes;
using Heaven.Model;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Providers;

/// <summary>Capistrano 3 (Debian's cap) deploys through Heaven onto a real sshd with the deployment's agent.</summary>
[Collection(SshDeploysCollection.Name)]
public sealed class CapistranoDeployTests(SshServerFixture ssh) : IDisposable
{
    private static readonly JsonObject Capistrano = new() { ["provider"] = "capistrano" };

    private readonly TestRepository repository = new("octo/app");
    private readonly SshTarget server = ssh.NewTarget();

    public void Dispose()
    {
        server.Dispose();
        repository.Dispose();
    }

    [Fact]
    public async Task ACapistranoDeploy_ShipsTheExactCommitToTheServer()
    {
        await using var harness = await ToolDeploys.StartAsync(server);
        var sha = DeployToolApps.CommitCapistranoApp(repository, server, "<h1>version 1</h1>");
        repository.Commit("newer", new Dictionary<string, string> { ["public/index.html"] = "<h1>version 2</h1>" });

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: Capistrano.DeepClone().AsObject());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        var log = await harness.LogAsync(heavenId);
        final.State.ShouldBe("success", log + server.Log);
        server.ReadFile("current/REVISION").Trim().ShouldBe(sha);
        server.ReadFile("current/public/index.html").ShouldBe("<h1>version 1</h1>");
        log.ShouldContain("Using cap from the PATH: the repository has no bin/cap");
        log.ShouldContain("Running cap production deploy");
        server.Log.ShouldContain("Accepted publickey for " + server.User);
        File.ReadAllText(Path.Combine(harness.Host.DataDirectory, "known_hosts")).ShouldContain(server.HostKey.Split(' ')[1]);
    }

    [IsolationFact]
    public async Task AnIsolatedCapistranoDeploy_ShipsTheCommit_AsTheDeployUserInTheSandbox()
    {
        await using var harness = await ToolDeploys.StartAsync(server, new() { ["Deployments:Isolation"] = "required" });
        var sha = DeployToolApps.CommitCapistranoApp(repository, server, "<h1>isolated</h1>");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: Capistrano.DeepClone().AsObject());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        var log = await harness.LogAsync(heavenId);
        final.State.ShouldBe("success", log + server.Log);
        log.ShouldContain("Deploys run as user heaven-deploy");
        log.ShouldContain("in a bubblewrap sandbox.");
        server.ReadFile("current/REVISION").Trim().ShouldBe(sha);
        server.ReadFile("current/public/index.html").ShouldBe("<h1>isolated</h1>");
        server.Log.ShouldContain("Accepted publickey for " + server.User);
    }

    [Fact]
    public async Task ARepositoryBinstub_IsTheCapThatRuns()
    {
        await using var harness = await ToolDeploys.StartAsync(server);
        var files = DeployToolApps.CapistranoFiles(repository, server, "binstub");
        files["bin/cap"] = "#!/bin/sh\necho \"binstub runs: $*\"\nexec cap \"$@\"\n";
        var sha = repository.Commit("binstub", files, "bin/cap");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: Capistrano.DeepClone().AsObject());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        var log = await harness.LogAsync(heavenId);
        final.State.ShouldBe("success", log);
        log.ShouldContain("Using bin/cap: the repository has its own Capistrano binstub");
        log.ShouldContain("binstub runs: production deploy");
        server.ReadFile("current/REVISION").Trim().ShouldBe(sha);
    }

    [Fact]
    public async Task AFailingCapistranoDeploy_ReportsFailure()
    {
        await using var harness = await ToolDeploys.StartAsync(server);
        var sha = DeployToolApps.CommitCapistranoApp(repository, server, "hello");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, environment: "qa", config: Capistrano.DeepClone().AsObject());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("failure", "cap exited with status 1"));
        (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Failed);
        (await harness.LogAsync(heavenId)).ShouldContain("Stage not set");
    }

    [Theory]
    [InlineData("deploy;touch {0}")]
    [InlineData("deploy:x$(touch {0})")]
    [InlineData("deploy touch {0}")]
    [InlineData("-T;touch {0}")]
    [InlineData("deploy:-x")]
    [InlineData("predeploy")]
    // A task with a line break never gets this far: the intake refuses it (Intake/LoggedNameTests).
    public async Task AHostileTask_IsRefused_AndRunsNothing(string task)
    {
        await using var harness = await ToolDeploys.StartAsync(server);
        var pwned = ToolDeploys.PwnedPath();
        var sha = DeployToolApps.CommitCapistranoApp(repository, server, "hello");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, task: string.Format(task, pwned), config: Capistrano.DeepClone().AsObject());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        final.Description!.ShouldContain("is not a deploy task");
        (await harness.LogAsync(heavenId)).ShouldNotContain("Running cap");
        File.Exists(pwned).ShouldBeFalse();
    }

    [Theory]
    [InlineData("-T")]
    [InlineData("production;touch {0}")]
    [InlineData("qa $(touch {0})")]
    public async Task AHostileEnvironment_IsRefused_AndRunsNothing(string environment)
    {
        await using var harness = await ToolDeploys.StartAsync(server);
        var pwned = ToolDeploys.PwnedPath();
        var sha = DeployToolApps.CommitCapistranoApp(repository, server, "hello");

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, environment: string.Format(environment, pwned), config: Capistrano.DeepClone().AsObject());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        File.Exists(pwned).ShouldBeFalse();
    }
}

/// <summary>What the deploy-tool tests share.</summary>
internal static class ToolDeploys
{
    public static Task<DeployHarness> StartAsync(SshTarget server, Dictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["Deployments:PrivateKey"] = server.DeployKeyOneLine,
            ["Deployments:Timeout"] = "60",
        };
        foreach (var (key, value) in settings ?? [])
        {
            all[key] = value;
        }

        return DeployHarness.StartAsync(all);
    }

    /// <summary>A file a hostile value would create if any part of it ran as a command.</summary>
    public static string PwnedPath() => Path.Combine(Path.GetTempPath(), $"pwned-{Guid.NewGuid():N}");
}
