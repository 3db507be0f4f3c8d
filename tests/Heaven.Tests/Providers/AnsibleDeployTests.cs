using System.Text.Json.Nodes;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Providers;

/// <summary>ansible-playbook (Debian's ansible-core) deploys through Heaven onto a real sshd with the deployment's agent.</summary>
[Collection(SshDeploysCollection.Name)]
public sealed class AnsibleDeployTests(SshServerFixture ssh) : IDisposable
{
    private readonly TestRepository repository = new("octo/app");
    private readonly SshTarget server = ssh.NewTarget();

    public void Dispose()
    {
        server.Dispose();
        repository.Dispose();
    }

    private static JsonObject Ansible(string? inventory = null, string? playbook = null)
    {
        var config = new JsonObject { ["provider"] = "ansible" };
        if (inventory is not null)
        {
            config["ansible_inventory"] = inventory;
        }

        if (playbook is not null)
        {
            config["ansible_playbook"] = playbook;
        }

        return config;
    }

    [Fact]
    public async Task AnAnsibleDeploy_ShipsTheExactCommitToTheServer()
    {
        await using var harness = await ToolDeploys.StartAsync(server);
        var sha = DeployToolApps.CommitAnsibleApp(repository, server, "<h1>ansible</h1>");
        repository.Commit("newer", new Dictionary<string, string> { ["public/index.html"] = "<h1>version 2</h1>" });

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: Ansible());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        var log = await harness.LogAsync(heavenId);
        final.State.ShouldBe("success", log + server.Log);
        server.ReadFile("current/REVISION").Trim().ShouldBe(sha);
        server.ReadFile("current/public/index.html").ShouldBe("<h1>ansible</h1>");
        log.ShouldContain($"Running ansible-playbook -i {harness.Host.DataDirectory}");
        log.ShouldContain($"--extra-vars '{{\"sha\":\"{sha}\",\"ref\":\"master\",\"deploy_env\":\"production\",\"deploy_task\":\"deploy\",\"heaven_deployment_id\":{heavenId}}}'");
        log.ShouldNotContain("\u001b[");
        server.Log.ShouldContain("Accepted publickey for " + server.User);
        File.ReadAllText(Path.Combine(harness.Host.DataDirectory, "known_hosts")).ShouldContain(server.HostKey.Split(' ')[1]);
        Directory.GetFiles(ToolCheckout(harness), "*.retry", SearchOption.AllDirectories).ShouldBeEmpty();
    }

    [IsolationFact]
    public async Task AnIsolatedAnsibleDeploy_ShipsTheCommit_AsTheDeployUserInTheSandbox()
    {
        await using var harness = await ToolDeploys.StartAsync(server, new() { ["Deployments:Isolation"] = "required" });
        var sha = DeployToolApps.CommitAnsibleApp(repository, server, "<h1>isolated</h1>");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: Ansible());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        var log = await harness.LogAsync(heavenId);
        final.State.ShouldBe("success", log + server.Log);
        log.ShouldContain("Deploys run as user heaven-deploy");
        log.ShouldContain("in a bubblewrap sandbox.");
        server.ReadFile("current/REVISION").Trim().ShouldBe(sha);
        server.ReadFile("current/public/index.html").ShouldBe("<h1>isolated</h1>");
    }

    [Fact]
    public async Task AnInventoryAndPlaybookFromThePayload_AreUsed()
    {
        await using var harness = await ToolDeploys.StartAsync(server);
        var sha = repository.Commit("elsewhere", new Dictionary<string, string>
        {
            ["deploy/inventory.ini"] = DeployToolApps.Inventory(server),
            ["deploy/play.yml"] = DeployToolApps.Playbook(server),
            ["public/index.html"] = "moved",
        });

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: Ansible("deploy/inventory.ini", "deploy/play.yml"));

        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success", await harness.LogAsync(heavenId));
        server.ReadFile("current/REVISION").Trim().ShouldBe(sha);
    }

    [Fact]
    public async Task AFailingPlaybook_ReportsFailure()
    {
        await using var harness = await ToolDeploys.StartAsync(server);
        var sha = DeployToolApps.CommitAnsibleApp(repository, server, "x");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, environment: "qa", config: Ansible());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("failure", "ansible-playbook exited with status 2"));
        (await harness.LogAsync(heavenId)).ShouldContain("no servers for environment qa in ansible/hosts");
        server.FileExists("current/REVISION").ShouldBeFalse();
    }

    [Theory]
    [InlineData("../../../../../../etc/hosts", null, "points outside the repository")]
    [InlineData("/etc/hosts", null, "must be a path inside the repository")]
    [InlineData(null, "ansible/../../site.yml", "points outside the repository")]
    [InlineData("ansible/missing", null, "does not exist in the repository")]
    public async Task AnInventoryOrPlaybookOutsideTheCheckout_IsRefused(string? inventory, string? playbook, string problem)
    {
        await using var harness = await ToolDeploys.StartAsync(server);
        var sha = DeployToolApps.CommitAnsibleApp(repository, server, "x");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: Ansible(inventory, playbook));
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        final.Description!.ShouldContain(problem);
        (await harness.LogAsync(heavenId)).ShouldNotContain("Running ansible-playbook");
    }

    [Fact]
    public async Task AnInventoryLinkLeadingOutOfTheCheckout_IsRefused()
    {
        await using var harness = await ToolDeploys.StartAsync(server);
        DeployToolApps.CommitAnsibleApp(repository, server, "x");
        File.CreateSymbolicLink(Path.Combine(repository.WorkPath, "ansible", "outside"), "/etc/hosts");
        var sha = repository.Commit("link", new Dictionary<string, string>());

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, config: Ansible("ansible/outside"));
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        final.Description!.ShouldContain("is a link that points outside the repository");
    }

    [Theory]
    [InlineData("deploy;touch {0}")]
    [InlineData("deploy $(touch {0})")]
    [InlineData("--extra-vars=x")]
    public async Task AHostileTask_IsRefused_AndRunsNothing(string task)
    {
        await using var harness = await ToolDeploys.StartAsync(server);
        var pwned = ToolDeploys.PwnedPath();
        var sha = DeployToolApps.CommitAnsibleApp(repository, server, "x");

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, task: string.Format(task, pwned), config: Ansible());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        final.Description!.ShouldContain("is not a deploy task");
        File.Exists(pwned).ShouldBeFalse();
    }

    [Fact]
    public async Task AnEnvironmentHoldingATemplate_IsRefused_AndRendersNothing()
    {
        await using var harness = await ToolDeploys.StartAsync(server);
        var pwned = ToolDeploys.PwnedPath();
        var sha = DeployToolApps.CommitAnsibleApp(repository, server, "x");

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, environment: $"{{{{lookup('pipe','touch {pwned}')}}}}", config: Ansible());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        File.Exists(pwned).ShouldBeFalse();
    }

    private static string ToolCheckout(DeployHarness harness) => harness.Host.DataDirectory;
}
