using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Deployments;

/// <summary>The operator commands of the deploy engine, run as the real executable.</summary>
[Collection(HeavyHostsCollection.Name)]
public sealed class CommandLineDeployTests
{
    [Fact]
    public async Task DeployLocal_RunsTheScriptOfTheCommitAndPrintsTheStatusesItWouldPost()
    {
        using var repository = new TestRepository("local/app");
        repository.CommitDeployScript("echo \"deploying $SHA to $DEPLOY_ENV\"\necho \"token ${GITHUB_TOKEN:-absent}\"\necho oops >&2");
        using var directory = new TemporaryDirectory();

        var (exitCode, output, error) = await HeavenProcess.RunAsync(
            new Dictionary<string, string>
            {
                ["HEAVEN_DATA_DIR"] = Path.Combine(directory.Path, "data"),
                ["GITHUB_TOKEN"] = "ghp_localSecret0123456789",
            },
            "deploy-local", repository.WorkPath, "--environment", "staging");

        exitCode.ShouldBe(0, output + error);
        var sha = TestRepository.Git(repository.WorkPath, "rev-parse", "HEAD").Trim();
        output.ShouldContain($"==> status in_progress: Deploying {sha[..8]} to staging");
        output.ShouldContain($"deploying {sha[..8]} to staging");
        output.ShouldMatch($"==> status success: Deployed {sha[..8]} to staging in \\d+s");
        error.ShouldContain("oops");
        // The deploy never sees Heaven's own secrets.
        output.ShouldContain("token absent");
    }

    [Fact]
    public async Task DeployLocal_MasksSecretsAndExitsWithTheOutcome()
    {
        using var repository = new TestRepository("local/app");
        repository.CommitDeployScript("echo \"printing ghp_localSecret0123456789\"\nexit 3");
        using var directory = new TemporaryDirectory();

        var (exitCode, output, _) = await HeavenProcess.RunAsync(
            new Dictionary<string, string>
            {
                ["HEAVEN_DATA_DIR"] = Path.Combine(directory.Path, "data"),
                ["GITHUB_TOKEN"] = "ghp_localSecret0123456789",
            },
            "deploy-local", repository.WorkPath, "--environment", "production", "--ref", "master");

        exitCode.ShouldBe(1);
        output.ShouldContain("printing ***");
        output.ShouldNotContain("ghp_localSecret0123456789");
        output.ShouldContain("==> status failure: deploy script exited with status 3");
    }

    [Fact]
    public async Task DeployLocal_WithoutAnEnvironment_ShowsUsage()
    {
        var (exitCode, _, error) = await HeavenProcess.RunAsync(new Dictionary<string, string>(), "deploy-local", "/tmp");

        exitCode.ShouldBe(2);
        error.ShouldContain("Usage: heaven deploy-local <path> --environment ENV");
    }

    [Fact]
    public async Task Cancel_FromAnotherProcess_StopsTheRunningDeploy()
    {
        using var repository = new TestRepository();
        await using var harness = await DeployHarness.StartAsync();
        var sha = repository.CommitDeployScript("echo waiting\nsleep 60");
        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        await harness.GitHub.WaitForStatusAsync(s => s.DeploymentId == gitHubId && s.State == "in_progress");

        var (exitCode, output, error) = await HeavenProcess.RunAsync(
            new Dictionary<string, string>
            {
                ["HEAVEN_DATA_DIR"] = harness.Host.DataDirectory,
                ["GITHUB_WEBHOOK_SECRET"] = HeavenTestHost.Secret,
            },
            "cancel", heavenId.ToString(System.Globalization.CultureInfo.InvariantCulture), "--by", "alice");

        exitCode.ShouldBe(0, error);
        output.ShouldContain($"Deployment {heavenId} is running");
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);
        (final.State, final.Description).ShouldBe(("error", "Cancelled by alice"));
    }

    [Fact]
    public async Task Cancel_OfAnUnknownDeployment_SaysSo()
    {
        // An existing (empty) data directory: a missing one is refused before any deployment is looked for.
        using var directory = new TemporaryDirectory();

        var (exitCode, _, error) = await HeavenProcess.RunAsync(
            new Dictionary<string, string> { ["HEAVEN_DATA_DIR"] = directory.Path },
            "cancel", "12345");

        exitCode.ShouldBe(1);
        error.ShouldContain("There is no deployment 12345.");
    }
}
