using System.Text.Json.Nodes;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Providers;

/// <summary>
/// bundler_capistrano installs the bundle, then runs bundle exec cap. Offline: Providers:Bundler:Local
/// makes bundle install resolve against the gems Debian installed (ruby-capistrano and its dependencies).
/// </summary>
[Collection(SshDeploysCollection.Name)]
public sealed class BundlerCapistranoDeployTests(SshServerFixture ssh) : IDisposable
{
    private static readonly JsonObject Bundler = new() { ["provider"] = "bundler_capistrano" };

    private readonly TestRepository repository = new("octo/app");
    private readonly SshTarget server = ssh.NewTarget();

    public void Dispose()
    {
        server.Dispose();
        repository.Dispose();
    }

    [Fact]
    public async Task ABundledCapistranoDeploy_InstallsTheBundle_ThenShipsTheExactCommit()
    {
        const string credentials = "deployer:s3cr3t-gem-password";
        await using var harness = await ToolDeploys.StartAsync(server, new()
        {
            ["Providers:Bundler:Local"] = "true",
            ["Providers:Bundler:PrivateSource"] = "https://gems.example-private.com/",
            ["Providers:Bundler:PrivateCredentials"] = credentials,
        });
        var sha = DeployToolApps.CommitBundledCapistranoApp(repository, server, "<h1>bundled</h1>");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: Bundler.DeepClone().AsObject());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        var log = await harness.LogAsync(heavenId);
        final.State.ShouldBe("success", log + server.Log);
        log.ShouldContain("Running bundle install --local");
        log.ShouldContain("Bundle complete!");
        log.ShouldContain("Running bundle exec cap production deploy");
        server.ReadFile("current/REVISION").Trim().ShouldBe(sha);
        server.ReadFile("current/public/index.html").ShouldBe("<h1>bundled</h1>");
        log.ShouldNotContain("s3cr3t-gem-password");
    }

    [Fact]
    public async Task TheCredentialsReachBundler_OnlyThroughItsHostVariable()
    {
        const string credentials = "deployer:s3cr3t-gem-password";
        await using var harness = await ToolDeploys.StartAsync(server, new()
        {
            ["Providers:Bundler:Local"] = "true",
            ["Providers:Bundler:PrivateSource"] = "gems.example-private.com",
            ["Providers:Bundler:PrivateCredentials"] = credentials,
        });
        // bundle config prints where each setting comes from; Heaven's masker must hide the value.
        var files = DeployToolApps.CapistranoFiles(repository, server, "x");
        files["Gemfile"] = DeployToolApps.Gemfile;
        files["Capfile"] = "puts \"credentials variable set: #{ENV.key?('BUNDLE_GEMS__EXAMPLE___PRIVATE__COM')}\"\nputs ENV['BUNDLE_GEMS__EXAMPLE___PRIVATE__COM']\n" + DeployToolApps.Capfile;
        var sha = repository.Commit("print", files);

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: Bundler.DeepClone().AsObject());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        var log = await harness.LogAsync(heavenId);
        final.State.ShouldBe("success", log);
        log.ShouldContain("credentials variable set: true");
        log.ShouldNotContain("s3cr3t-gem-password");
        log.ShouldNotContain("deployer:");
    }

    [Fact]
    public async Task WithRequiredTargetLists_TheCredentialsGoOnlyToARepositoryAllowedThem()
    {
        const string credentials = "deployer:s3cr3t-gem-password";
        using var allowedRepository = new TestRepository("octo/gems");
        await using var harness = await ToolDeploys.StartAsync(server, new()
        {
            ["Providers:Bundler:Local"] = "true",
            ["Providers:Bundler:PrivateSource"] = "gems.example-private.com",
            ["Providers:Bundler:PrivateCredentials"] = credentials,
            ["Providers:RequireTargetLists"] = "true",
            ["Repositories:octo/gems:BundlerPrivateSource"] = "true",
        });
        string Commit(TestRepository on)
        {
            var files = DeployToolApps.CapistranoFiles(on, server, "x");
            files["Gemfile"] = DeployToolApps.Gemfile;
            files["Capfile"] = "puts \"credentials variable set: #{ENV.key?('BUNDLE_GEMS__EXAMPLE___PRIVATE__COM')}\"\n" + DeployToolApps.Capfile;
            return on.Commit("print", files);
        }

        var (withheldId, withheldHeavenId) = await harness.DeployAsync(repository, Commit(repository), config: Bundler.DeepClone().AsObject());
        var withheld = await harness.WaitForFinalStatusAsync(repository, withheldId);

        var log = await harness.LogAsync(withheldHeavenId);
        withheld.State.ShouldBe("success", log);
        log.ShouldContain("credentials variable set: false");
        log.ShouldContain("The credentials for gems.example-private.com (Providers:Bundler:PrivateCredentials (or BUNDLER_PRIVATE_CREDENTIALS)) are not given to octo/app: Providers:RequireTargetLists is on and Repositories:octo/app:BundlerPrivateSource is not true");

        var (givenId, givenHeavenId) = await harness.DeployAsync(allowedRepository, Commit(allowedRepository), config: Bundler.DeepClone().AsObject());
        (await harness.WaitForFinalStatusAsync(allowedRepository, givenId)).State.ShouldBe("success");
        (await harness.LogAsync(givenHeavenId)).ShouldContain("credentials variable set: true");
    }

    [Fact]
    public async Task ABundleThatCannotBeInstalled_FailsTheDeploy_BeforeCapRuns()
    {
        await using var harness = await ToolDeploys.StartAsync(server, new() { ["Providers:Bundler:Local"] = "true" });
        var files = DeployToolApps.CapistranoFiles(repository, server, "x");
        files["Gemfile"] = DeployToolApps.Gemfile + "\ngem \"no-such-gem-anywhere-heaven\"\n";
        var sha = repository.Commit("unresolvable", files);

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: Bundler.DeepClone().AsObject());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        var log = await harness.LogAsync(heavenId);
        final.State.ShouldBe("failure", log);
        final.Description!.ShouldStartWith("bundle install exited with status");
        log.ShouldNotContain("Running bundle exec cap");
        server.FileExists("current/REVISION").ShouldBeFalse();
    }

    [Fact]
    public async Task WithoutAGemfile_TheDeployIsAnError()
    {
        await using var harness = await ToolDeploys.StartAsync(server, new() { ["Providers:Bundler:Local"] = "true" });
        var sha = DeployToolApps.CommitCapistranoApp(repository, server, "x");

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, config: Bundler.DeepClone().AsObject());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        final.Description!.ShouldContain("Gemfile 'Gemfile' does not exist");
    }

    [Theory]
    [InlineData("deploy;touch {0}")]
    [InlineData("-x$(touch {0})")]
    public async Task AHostileTask_IsRefused_BeforeBundlerRuns(string task)
    {
        await using var harness = await ToolDeploys.StartAsync(server, new() { ["Providers:Bundler:Local"] = "true" });
        var pwned = ToolDeploys.PwnedPath();
        var sha = DeployToolApps.CommitBundledCapistranoApp(repository, server, "x");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, task: string.Format(task, pwned), config: Bundler.DeepClone().AsObject());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        (await harness.LogAsync(heavenId)).ShouldNotContain("Running bundle");
        File.Exists(pwned).ShouldBeFalse();
    }
}
