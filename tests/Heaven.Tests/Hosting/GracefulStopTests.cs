using System.Net;
using System.Text.Json;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Hosting;

/// <summary>
/// Stopping and restarting the real <c>heaven</c> process without harm: SIGTERM lets running deploys
/// finish (or cancels them once Deployments:DrainTimeout is over, or on a second SIGTERM), webhooks
/// meanwhile wait in the queue, and <c>heaven drain</c> / <c>heaven resume</c> pause a running server.
/// </summary>
[Collection(HeavyHostsCollection.Name)]
public sealed class GracefulStopTests
{
    private const string Secret = "graceful-stop-secret-0123456789";
    private const string ShutDown = "Cancelled: Heaven was shut down";

    [Fact]
    public async Task Sigterm_LetsTheRunningDeployFinish_KeepsAWebhookSentMeanwhileForTheNextStart_AndExitsZero()
    {
        using var directory = new TemporaryDirectory();
        using var repository = new TestRepository();
        using var gate = new ScriptGate();
        await using var gitHub = await FakeGitHub.StartAsync();
        var started = Path.Combine(directory.Path, "started");
        var sha = repository.CommitDeployScript($"touch '{started}'\n{gate.Wait()}\necho deployed");
        var environment = Settings(directory, gitHub, drainTimeout: 120);
        var (running, runningId) = DeploymentWebhook.For(repository, sha);
        var (meanwhile, meanwhileId) = DeploymentWebhook.For(repository, sha, environment: "staging");

        await using (var heaven = await HeavenProcess.StartAsync(environment))
        {
            (await SendAsync(heaven, running)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
            await Poll.UntilAsync(() => File.Exists(started), "the deploy script to start", state: () => heaven.Output);

            heaven.Signal(HeavenProcess.Sigterm);
            await heaven.WaitForOutputAsync("waiting up to 120 s (Deployments:DrainTimeout) for 1 running deploys to finish");
            // Still answering while it drains: the delivery is recorded, and waits.
            (await SendAsync(heaven, meanwhile)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
            var health = await heaven.Client.GetAsync("/healthz");
            health.StatusCode.ShouldBe(HttpStatusCode.OK);
            JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement.GetProperty("draining").GetBoolean().ShouldBeTrue();
            gate.Open();

            (await heaven.WaitForExitAsync()).ShouldBe(0);
        }

        // Told to GitHub before Heaven exited.
        gitHub.StatusesFor(repository.FullName, runningId).Select(s => s.State).ShouldBe(["in_progress", "success"]);
        // Heaven has exited, so this one can no longer have started on that run.
        gitHub.StatusesFor(repository.FullName, meanwhileId).ShouldBeEmpty();

        await using (var again = await HeavenProcess.StartAsync(environment))
        {
            await gitHub.WaitForStatusAsync(s => s.DeploymentId == meanwhileId && s.State == "success", what: "the deployment sent during the drain to run after the restart");
        }

        // Nothing was left running for the restart to report as lost.
        gitHub.Statuses.ShouldNotContain(s => s.State == "error");
    }

    [Fact]
    public async Task Sigterm_CancelsADeployThatOutlastsDrainTimeout_AsACancelWould_AndExitsZero()
    {
        using var directory = new TemporaryDirectory();
        using var repository = new TestRepository();
        using var gate = new ScriptGate();
        await using var gitHub = await FakeGitHub.StartAsync();
        var (started, interrupted) = (Path.Combine(directory.Path, "started"), Path.Combine(directory.Path, "interrupted"));
        // Never let through: only the drain's end stops it.
        var sha = repository.CommitDeployScript($"trap \"wait; touch '{interrupted}'; exit 130\" INT\ntouch '{started}'\n{gate.WaitTrappably()}");
        var (body, gitHubId) = DeploymentWebhook.For(repository, sha);

        await using var heaven = await HeavenProcess.StartAsync(Settings(directory, gitHub, drainTimeout: 1));
        (await SendAsync(heaven, body)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        await Poll.UntilAsync(() => File.Exists(started), "the deploy script to start", state: () => heaven.Output);

        heaven.Signal(HeavenProcess.Sigterm);

        (await heaven.WaitForExitAsync()).ShouldBe(0);
        var final = gitHub.StatusesFor(repository.FullName, gitHubId).Last();
        (final.State, final.Description).ShouldBe(("error", ShutDown));
        // The script was stopped as a cancel stops it: SIGINT first, so it could clean up.
        File.Exists(interrupted).ShouldBeTrue(heaven.Output);
        heaven.Output.ShouldContain("cancelling 1 running deploys (Deployments:DrainTimeout passed)");
    }

    [Fact]
    public async Task ASecondSigterm_CancelsTheRunningDeployAtOnce()
    {
        using var directory = new TemporaryDirectory();
        using var repository = new TestRepository();
        using var gate = new ScriptGate();
        await using var gitHub = await FakeGitHub.StartAsync();
        var started = Path.Combine(directory.Path, "started");
        var sha = repository.CommitDeployScript($"touch '{started}'\n{gate.Wait()}");
        var (body, gitHubId) = DeploymentWebhook.For(repository, sha);

        await using var heaven = await HeavenProcess.StartAsync(Settings(directory, gitHub, drainTimeout: 600));
        (await SendAsync(heaven, body)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        await Poll.UntilAsync(() => File.Exists(started), "the deploy script to start", state: () => heaven.Output);
        heaven.Signal(HeavenProcess.Sigterm);
        await heaven.WaitForOutputAsync("waiting up to 600 s");

        heaven.Signal(HeavenProcess.Sigterm);

        // Far sooner than the 600 s the first one would have waited.
        (await heaven.WaitForExitAsync(TimeSpan.FromSeconds(60))).ShouldBe(0);
        var final = gitHub.StatusesFor(repository.FullName, gitHubId).Last();
        (final.State, final.Description).ShouldBe(("error", ShutDown));
        heaven.Output.ShouldContain("Heaven was told to stop a second time");
    }

    [Fact]
    public async Task CtrlC_DrainsLikeSigterm()
    {
        using var directory = new TemporaryDirectory();
        await using var gitHub = await FakeGitHub.StartAsync();
        await using var heaven = await HeavenProcess.StartAsync(Settings(directory, gitHub, drainTimeout: 600));

        heaven.Signal(HeavenProcess.Sigint);

        (await heaven.WaitForExitAsync()).ShouldBe(0);
        heaven.Output.ShouldContain("Stopping: this node takes no new deployments");
    }

    [Fact]
    public async Task Drain_KeepsNewDeploymentsQueued_AndSaysSoInHealthz_ResumeRunsThem()
    {
        using var directory = new TemporaryDirectory();
        using var repository = new TestRepository();
        await using var gitHub = await FakeGitHub.StartAsync();
        var sha = repository.CommitDeployScript("echo deployed");
        var environment = Settings(directory, gitHub, drainTimeout: 600);
        var (body, gitHubId) = DeploymentWebhook.For(repository, sha);
        await using var heaven = await HeavenProcess.StartAsync(environment);

        var drained = await HeavenProcess.RunAsync(environment, "drain", "--by", "maintenance");

        drained.ExitCode.ShouldBe(0, drained.Error);
        drained.Output.ShouldContain("is drained (by maintenance at ");
        await heaven.WaitForOutputAsync("Drained (this node, by maintenance at ");
        (await SendAsync(heaven, body)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var queued = await HeavenProcess.RunAsync(environment, "deployments", "--state", "queued");
        queued.Output.ShouldContain($"gh:{gitHubId}");
        var health = await heaven.Client.GetAsync("/healthz");
        health.StatusCode.ShouldBe(HttpStatusCode.OK);
        var report = JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement;
        report.GetProperty("draining").GetBoolean().ShouldBeTrue();
        report.GetProperty("details").GetProperty("draining").GetString().ShouldStartWith("drained (this node) by maintenance at ");

        var resumed = await HeavenProcess.RunAsync(environment, "resume");

        resumed.ExitCode.ShouldBe(0, resumed.Error);
        await gitHub.WaitForStatusAsync(s => s.DeploymentId == gitHubId && s.State == "success", what: "the queued deployment to run after heaven resume");
        var after = JsonDocument.Parse(await heaven.Client.GetStringAsync("/healthz")).RootElement;
        after.GetProperty("draining").GetBoolean().ShouldBeFalse();
        var again = await HeavenProcess.RunAsync(environment, "resume");
        again.ExitCode.ShouldBe(1);
        again.Error.ShouldContain("was not drained");
    }

    private static Dictionary<string, string> Settings(TemporaryDirectory directory, FakeGitHub gitHub, int drainTimeout) => new()
    {
        ["HEAVEN_DATA_DIR"] = Path.Combine(directory.Path, "data"),
        ["GITHUB_WEBHOOK_SECRET"] = Secret,
        ["GitHub__ApiUrl"] = gitHub.ApiUrl,
        ["GitHub__Token"] = "graceful-stop-token",
        ["Output__MirrorToGist"] = "false",
        ["Deployments__DrainTimeout"] = drainTimeout.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static Task<HttpResponseMessage> SendAsync(HeavenProcess heaven, string body) =>
        heaven.Client.SendAsync(Webhook.Request("deployment", body, Guid.NewGuid().ToString(), Secret));
}
