using System.Net;
using System.Text.Json;
using Heaven.Execution;
using Heaven.Hosting;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Deployments;

/// <summary>
/// What an operator is told about deploy isolation: where the host allows none in <c>auto</c> mode,
/// the start-up report, <c>/healthz</c> and every deploy log say plainly what a deploy can read; in
/// <c>required</c> mode no deploy runs, and the status says why. (These run on any host: they turn the
/// user switch and the sandbox off rather than depend on what the machine has.)
/// </summary>
public sealed class IsolationSettingsTests
{
    private const string NotIsolated =
        "Deploys are not isolated: they run as Heaven's own user and can read its secrets (no user switch: Deployments:RunAs is empty; no sandbox: Deployments:Sandbox is false).";

    private static Dictionary<string, string?> Without(string mode) => new()
    {
        ["Deployments:Isolation"] = mode,
        ["Deployments:RunAs"] = "",
        ["Deployments:Sandbox"] = "false",
    };

    [Fact]
    public async Task AutoWithNothingAvailable_SaysSoAtStart_InHealthz_AndInEveryDeployLog()
    {
        await using var harness = await DeployHarness.StartAsync(Without("auto"));
        using var repository = new TestRepository();
        var sha = repository.CommitDeployScript("echo deployed");

        using var report = new StringWriter();
        StartupReport.Write(harness.Host.Services, report);
        var health = await harness.Host.Client.GetAsync("/healthz");
        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        report.ToString().ShouldContain($"  Deploys          {NotIsolated}");
        report.ToString().ShouldContain("WARNING          a deploy script could read Heaven's GitHub token and other secrets.");
        health.StatusCode.ShouldBe(HttpStatusCode.OK);
        JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement.GetProperty("details").GetProperty("isolation").GetString().ShouldBe(NotIsolated);
        final.State.ShouldBe("success");
        (await harness.LogAsync(heavenId)).Split('\n').ShouldContain(NotIsolated);
    }

    [Fact]
    public async Task RequiredWithNothingAvailable_RunsNoDeploy_AndSaysWhy()
    {
        await using var harness = await DeployHarness.StartAsync(Without("required"));
        using var repository = new TestRepository();
        using var folder = new TemporaryDirectory();
        var ran = Path.Combine(folder.Path, "ran");
        var sha = repository.CommitDeployScript($"touch {ran}");

        using var report = new StringWriter();
        StartupReport.Write(harness.Host.Services, report);
        var health = await harness.Host.Client.GetAsync("/healthz");
        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        final.Description.ShouldBe("Refused: Deployments:Isolation is required, but this host cannot isolate deploys (see the log)");
        File.Exists(ran).ShouldBeFalse("the deploy script ran");
        (await harness.LogAsync(heavenId)).ShouldContain("Deploys are refused: Deployments:Isolation is required, but this host allows neither a user switch nor a sandbox");
        report.ToString().ShouldContain("WARNING          no deploy will run until this host can isolate them");
        health.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement.GetProperty("checks").GetProperty("isolation").GetString()
            .ShouldStartWith("Deploys are refused");
    }

    [Fact]
    public async Task HeavensOwnProcess_IsNotDumpableOnceStarted()
    {
        await using var harness = await DeployHarness.StartAsync();

        // Same-user processes can then neither read /proc/<pid>/environ nor attach (HostileDeployTests shows it from outside).
        Posix.Dumpable.ShouldBe(0);
    }
}
