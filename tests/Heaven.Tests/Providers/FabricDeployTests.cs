using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Heaven.Deployments;
using Heaven.Model;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Providers;

/// <summary>
/// Fabric 2 (Debian's fab) deploys through Heaven onto a real sshd, reaching it with the deploy key
/// through the deployment's own ssh-agent, checking host keys against the data directory's known_hosts.
/// </summary>
[Collection(SshDeploysCollection.Name)]
public sealed class FabricDeployTests(SshServerFixture ssh) : IDisposable
{
    private static readonly JsonObject Fabric = new() { ["provider"] = "fabric" };

    private readonly TestRepository repository = new("octo/app");
    private readonly SshTarget server = ssh.NewTarget();

    public void Dispose()
    {
        server.Dispose();
        repository.Dispose();
    }

    [Fact]
    public async Task AFabricDeploy_ShipsTheExactCommitToTheServer_WithTheDeploymentsOwnAgent()
    {
        await using var harness = await StartAsync();
        var sha = SampleApps.CommitFabricApp(repository, server, "<h1>version 1</h1>");
        repository.Commit("newer", new Dictionary<string, string> { ["public/index.html"] = "<h1>version 2</h1>" });

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: Fabric.DeepClone().AsObject());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        var log = await harness.LogAsync(heavenId);
        final.State.ShouldBe("success", log + server.Log);
        harness.Story(repository, gitHubId)[0].ShouldBe($"in_progress: Deploying {sha[..8]} to production");
        server.ReadFile($"releases/{sha}/public/index.html").ShouldBe("<h1>version 1</h1>");
        server.ReadFile($"releases/{sha}/REVISION").Trim().ShouldBe(sha);
        Path.GetFileName(new DirectoryInfo(server.TargetPath("current")).LinkTarget).ShouldBe(sha);
        log.ShouldContain($"Running fab deploy --environment=production --ref=master --sha={sha}");
        log.ShouldContain("Deploy key ssh-ed25519 SHA256:");
        log.ShouldContain($"Deploying master ({sha[..8]}) to {server.Address}");
        // The key sshd accepted is the deploy key: the one in the agent.
        server.Log.ShouldContain("Accepted publickey for " + server.User);

        // accept-new: the server's key is now trusted, in Heaven's file and nowhere else.
        KnownHostsEntry(Path.Combine(harness.Host.DataDirectory, "known_hosts")).ShouldContain(server.HostKey.Split(' ')[1]);
        KnownHostsEntry(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh", "known_hosts")).ShouldBeEmpty();

        await AssertAgentGoneAsync(harness);
        AssertKeyNotIn(log, "the stored log");
        AssertKeyNotInFilesUnder(harness.Host.DataDirectory);
    }

    [Fact]
    public async Task AFailingFabricDeploy_ReportsFailure()
    {
        await using var harness = await StartAsync();
        var sha = SampleApps.CommitFabricApp(repository, server, "hello");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, environment: "qa", config: Fabric.DeepClone().AsObject());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("failure", "fab exited with status 1"));
        (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Failed);
        (await harness.LogAsync(heavenId)).ShouldContain("no servers for environment 'qa' in fabfile.py");
        await AssertAgentGoneAsync(harness);
    }

    [Fact]
    public async Task WhileADeployRuns_TheKeyIsInNoProcessArgumentOrEnvironment_AndTheToolsUseTheAgent()
    {
        await using var harness = await StartAsync();
        var sha = SampleApps.CommitFabricApp(repository, server, "slow");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, task: "deploy:slow", config: Fabric.DeepClone().AsObject());
        var agentsSeen = 0;
        var secrets = KeyPieces();
        // Every look at the process table while the deploy runs: the key nowhere, fab with the deployment's agent.
        await Poll.UntilAsync(
            () =>
            {
                foreach (var (pid, commandLine, environment) in Processes())
                {
                    foreach (var piece in secrets)
                    {
                        commandLine.ShouldNotContain(piece, customMessage: $"process {pid}'s arguments");
                        environment.ShouldNotContain(piece, customMessage: $"process {pid}'s environment");
                    }

                    if (environment.Contains("SSH_AUTH_SOCK=" + WorkDirectory(harness) + "/", StringComparison.Ordinal) && commandLine.Contains("fab", StringComparison.Ordinal))
                    {
                        agentsSeen++;
                    }
                }

                return harness.GitHub.StatusesFor(repository.FullName, gitHubId).Any(s => s.State is "success" or "failure" or "error");
            },
            "the slow deploy to finish",
            DeployHarness.FinalStatusTimeout,
            harness.GitHub.DescribeRequests);

        var log = await harness.LogAsync(heavenId);
        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success", log);
        log.ShouldContain("Running fab deploy-slow --environment=production");
        agentsSeen.ShouldBeGreaterThan(0, "fab ran with the deployment's SSH_AUTH_SOCK");
        await AssertAgentGoneAsync(harness);
    }

    [Fact]
    public async Task ADeployThatTimesOut_StopsItsAgentToo()
    {
        await using var harness = await StartAsync(new() { ["Deployments:Timeout"] = "2" });
        var sha = SampleApps.CommitFabricApp(repository, server, "slow");

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, task: "deploy:slow", config: Fabric.DeepClone().AsObject());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("failure", "timed out after 2s"));
        await AssertAgentGoneAsync(harness);
    }

    [Fact]
    public async Task ACancelledDeploy_StopsItsAgentToo()
    {
        await using var harness = await StartAsync();
        var sha = SampleApps.CommitFabricApp(repository, server, "slow");
        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, task: "deploy:hang", config: Fabric.DeepClone().AsObject());
        await Poll.UntilAsync(
            () => ProcessTable.WithCommandLineContaining("sleep 47").Count > 0, "the deploy to reach the server", DeployHarness.FinalStatusTimeout, harness.GitHub.DescribeRequests);
        ProcessTable.WithCommandLineContaining(WorkDirectory(harness) + "/").ShouldNotBeEmpty("the agent runs while the deploy does");

        await harness.Host.Services.GetRequiredService<DeploymentQueue>().RequestCancelAsync(heavenId, "alice", CancellationToken.None);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "Cancelled by alice"));
        await AssertAgentGoneAsync(harness);
    }

    [Fact]
    public async Task StrictHostKeyChecking_RefusesAServerNotInKnownHosts_SayingWhy()
    {
        await using var harness = await StartAsync(new() { ["Deployments:StrictHostKeyChecking"] = "true" });
        var sha = SampleApps.CommitFabricApp(repository, server, "hello");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: Fabric.DeepClone().AsObject());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        var log = await harness.LogAsync(heavenId);
        (final.State, final.Description).ShouldBe(("failure", "fab exited with status 1"));
        log.ShouldContain($"Host key verification failed: [127.0.0.1]:{server.Port} is not in {Path.Combine(harness.Host.DataDirectory, "known_hosts")} and strict host key checking is on");
        server.FileExists($"releases/{sha}/REVISION").ShouldBeFalse();
        KnownHostsEntry(Path.Combine(harness.Host.DataDirectory, "known_hosts")).ShouldBeEmpty();
    }

    [Fact]
    public async Task StrictHostKeyChecking_DeploysToAServerInKnownHosts()
    {
        using var directory = new TemporaryDirectory();
        Directory.CreateDirectory(Path.Combine(directory.Path, "data"));
        await File.WriteAllTextAsync(Path.Combine(directory.Path, "data", "known_hosts"), server.KnownHostsLine + "\n");
        await using var harness = await StartAsync(new() { ["Deployments:StrictHostKeyChecking"] = "true" }, directory);
        var sha = SampleApps.CommitFabricApp(repository, server, "hello");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: Fabric.DeepClone().AsObject());

        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success", await harness.LogAsync(heavenId));
        server.ReadFile($"releases/{sha}/REVISION").Trim().ShouldBe(sha);
    }

    [Fact]
    public async Task GitFetchesOverSsh_WithTheAgent_AndTheDeployScriptReachesTheServerToo()
    {
        await using var harness = await StartAsync();
        var sha = repository.CommitDeployScript($"""
            echo "fetched $HEAVEN_SHA"
            ssh-add -l
            ssh -p {server.Port} {server.User}@127.0.0.1 echo hello from the server
            """);

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, cloneUrl: server.SshUrl(repository.BarePath));
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        var log = await harness.LogAsync(heavenId);
        final.State.ShouldBe("success", log + server.Log);
        log.ShouldContain("Fetching octo/app...");
        log.ShouldContain($"fetched {sha}");
        log.ShouldContain("heaven-test-deploy (ED25519)");
        log.ShouldContain("hello from the server");
        KnownHostsEntry(Path.Combine(harness.Host.DataDirectory, "known_hosts")).ShouldContain(server.HostKey.Split(' ')[1]);
        await AssertAgentGoneAsync(harness);
    }

    [Fact]
    public async Task GitOverSsh_WithStrictChecking_RefusesAnUnknownServer_InTheStatus()
    {
        await using var harness = await StartAsync(new() { ["Deployments:StrictHostKeyChecking"] = "true" });
        var sha = repository.CommitDeployScript("echo should not run");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, cloneUrl: server.SshUrl(repository.BarePath));
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        final.Description.ShouldBe($"fetching octo/app failed: No ED25519 host key is known for [127.0.0.1]:{server.Port} and you have requested strict checking.");
        (await harness.LogAsync(heavenId)).ShouldNotContain("should not run");
    }

    [Theory]
    [InlineData("deploy;touch {0}")]
    [InlineData("deploy:x$(touch {0})")]
    [InlineData("deploy:x`touch {0}`")]
    [InlineData("deploy touch {0}")]
    [InlineData("deploy:-x;touch {0}")]
    public async Task AHostileTask_RunsNothingTheTemplateDidNotName(string task)
    {
        await using var harness = await StartAsync();
        var pwned = Path.Combine(Path.GetTempPath(), $"pwned-{Guid.NewGuid():N}");
        var sha = SampleApps.CommitFabricApp(repository, server, "hello");

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, task: string.Format(task, pwned), config: Fabric.DeepClone().AsObject());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        final.Description!.ShouldStartWith("task '");
        final.Description.ShouldContain("is not a deploy task");
        File.Exists(pwned).ShouldBeFalse();
    }

    private Task<DeployHarness> StartAsync(Dictionary<string, string?>? settings = null, TemporaryDirectory? directory = null)
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

        return DeployHarness.StartAsync(all, directory);
    }

    /// <summary>Long pieces of the private key: any of them showing up anywhere is a leak.</summary>
    private string[] KeyPieces() =>
    [
        .. server.DeployKey.Split('\n').Where(l => l.Length >= 20 && !l.StartsWith("-----", StringComparison.Ordinal)),
        server.DeployKeyOneLine,
    ];

    private void AssertKeyNotIn(string text, string where)
    {
        foreach (var piece in KeyPieces())
        {
            text.ShouldNotContain(piece, customMessage: where);
        }
    }

    private void AssertKeyNotInFilesUnder(string folder)
    {
        // server.lock is empty, and locked while the server runs.
        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Where(f => Path.GetFileName(f) != Heaven.Hosting.DataDirectoryLock.FileName))
        {
            AssertKeyNotIn(Encoding.Latin1.GetString(File.ReadAllBytes(file)), file);
        }
    }

    /// <summary>The deployments' own folders (the agent's socket is in their ssh/).</summary>
    private static string WorkDirectory(DeployHarness harness) => harness.Host.DataDirectory + "-work";

    /// <summary>The deployment's private ssh folders are gone, and no ssh-agent serves a socket in them.</summary>
    private static async Task AssertAgentGoneAsync(DeployHarness harness)
    {
        var folders = WorkDirectory(harness);
        (Directory.Exists(folders) ? Directory.GetDirectories(folders) : []).ShouldBeEmpty();
        (await ProcessTable.LeftoverAsync(folders)).ShouldBeEmpty("an ssh-agent (or anything else) still names the deployment's ssh folder");
    }

    /// <summary>The lines of <paramref name="knownHosts"/> for this server (ssh-keygen also finds hashed entries).</summary>
    private string KnownHostsEntry(string knownHosts)
    {
        if (!File.Exists(knownHosts))
        {
            return "";
        }

        var info = new ProcessStartInfo("ssh-keygen") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-F", $"[127.0.0.1]:{server.Port}", "-f", knownHosts })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return string.Join('\n', output.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')));
    }

    /// <summary>Every process's arguments and environment that this user may read.</summary>
    private static IEnumerable<(int Pid, string CommandLine, string Environment)> Processes()
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }

            string commandLine, environment;
            try
            {
                commandLine = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
                environment = File.ReadAllText(Path.Combine(directory, "environ")).Replace('\0', '\n');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            yield return (pid, commandLine, environment);
        }
    }
}
