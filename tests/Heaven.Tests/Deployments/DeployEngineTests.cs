using System.Text.Json.Nodes;
using Heaven.Deployments;
using Heaven.Model;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Deployments;

/// <summary>A deployment webhook runs a real deploy of the exact commit and GitHub hears how it went.</summary>
public sealed class DeployEngineTests : IAsyncLifetime
{
    private readonly TestRepository repository = new("octo/app");
    private DeployHarness harness = null!;

    public async Task InitializeAsync() => harness = await DeployHarness.StartAsync();

    public async Task DisposeAsync()
    {
        await harness.DisposeAsync();
        repository.Dispose();
    }

    [Fact]
    public async Task ASuccessfulDeploy_RunsTheScriptAtTheExactCommitAndReportsSuccess()
    {
        var sha = repository.CommitDeployScript("""
            echo "deploying $BRANCH $SHA to $DEPLOY_ENV ($DEPLOY_TASK)"
            echo "full sha $HEAVEN_SHA, version $(cat VERSION)"
            echo "a warning" >&2
            """);
        repository.Commit("version", new Dictionary<string, string> { ["VERSION"] = "2" });
        var older = sha;
        repository.Commit("newer", new Dictionary<string, string> { ["VERSION"] = "3" });

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, older);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("success");
        final.Description!.ShouldMatch($"^Deployed {older[..8]} to production in \\d+s$");
        harness.Story(repository, gitHubId)[0].ShouldBe($"in_progress: Deploying {older[..8]} to production");
        var log = await harness.LogAsync(heavenId);
        log.ShouldContain($"deploying master {older[..8]} to production (deploy)");
        // The commit deployed is the one asked for, not the branch head (VERSION did not exist yet).
        log.ShouldContain($"full sha {older}, version ");
        log.ShouldNotContain("version 3");
        log.ShouldContain("a warning");
        (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Succeeded);
    }

    [Fact]
    public async Task AFailingScript_ReportsFailureWithTheExitCode()
    {
        var sha = repository.CommitDeployScript("echo about to fail\nexit 2");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("failure", "deploy script exited with status 2"));
        (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Failed);
        (await harness.LogAsync(heavenId)).ShouldContain("about to fail");
    }

    [Fact]
    public async Task AScriptThatRunsTooLong_IsStoppedAndReportedAsTimedOut_LeavingNoProcess()
    {
        // Its own Heaven with a 3 s timeout; the others get the harness's minute, however busy the machine.
        await using var impatient = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Deployments:Timeout"] = "3" });
        var marker = $"heaven-timeout-{Guid.NewGuid():N}";
        var sha = repository.CommitDeployScript($"echo started\nexec -a {marker} sleep 60");

        var (gitHubId, heavenId) = await impatient.DeployAsync(repository, sha);
        var final = await impatient.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("failure", "timed out after 3s"));
        (await impatient.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Failed);
        (await ProcessTable.LeftoverAsync(marker)).ShouldBeEmpty();
    }

    [Fact]
    public async Task AScriptThatLeavesADaemonHoldingItsOutput_StillFinishes_AndTheDaemonIsStopped()
    {
        var marker = $"heaven-daemon-{Guid.NewGuid():N}";
        var sha = repository.CommitDeployScript($"(exec -a {marker} sleep 300) &\necho daemon started");

        var (gitHubId, _) = await harness.DeployAsync(repository, sha);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("success");
        (await ProcessTable.LeftoverAsync(marker)).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("foo..bar")]
    [InlineData("$(reboot)")]
    [InlineData("-upload-pack=evil")]
    public async Task AnInvalidRef_EndsErroredSayingSo(string reference)
    {
        var sha = repository.CommitDeployScript("echo should not run");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, reference: reference);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        final.Description!.ShouldStartWith("invalid ref");
        (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Errored);
        (await harness.LogAsync(heavenId)).ShouldNotContain("should not run");
    }

    [Fact]
    public async Task AnUnreachableRepository_EndsErroredSayingTheFetchFailed()
    {
        using var gone = new TestRepository("octo/gone");
        var sha = gone.CommitDeployScript("echo hi");
        Directory.Delete(gone.BarePath, recursive: true);

        var (gitHubId, _) = await harness.DeployAsync(gone, sha);
        var final = await harness.WaitForFinalStatusAsync(gone, gitHubId);

        final.State.ShouldBe("error");
        final.Description!.ShouldStartWith("fetching octo/gone failed");
    }

    [Theory]
    [InlineData(null, "payload.config.deploy_script is not set")]
    [InlineData("script/missing", "deploy script 'script/missing' does not exist")]
    [InlineData("../../../../bin/sh", "deploy script '../../../../bin/sh' points outside the repository")]
    [InlineData("/bin/sh", "must be a path inside the repository")]
    [InlineData("README", "deploy script 'README' is not executable")]
    public async Task AScriptThatCannotBeRun_EndsErroredSayingWhy(string? script, string expected)
    {
        var sha = repository.Commit("readme", new Dictionary<string, string> { ["README"] = "hello" });
        var config = new JsonObject { ["provider"] = "shell" };
        if (script is not null)
        {
            config["deploy_script"] = script;
        }

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, config: config);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        final.Description!.ShouldContain(expected);
    }

    [Fact]
    public async Task AnUnknownProvider_IsLeftAloneWithoutAnyStatus()
    {
        var sha = repository.CommitDeployScript("echo hi");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: new JsonObject { ["provider"] = "someone-elses" });
        var looked = await Poll.ForAsync(() => harness.DeploymentAsync(heavenId), d => d.State != DeploymentState.Queued, "the deployment to be looked at");

        looked.State.ShouldBe(DeploymentState.Ignored);
        // A status would have been put in the outbox with the outcome; none was, and none reached GitHub.
        (await harness.Host.WorkItemsAsync(WorkItemKinds.PostDeploymentStatus)).ShouldBeEmpty();
        await harness.Host.IdleAsync(OutboxConsumer.StatusSender);
        harness.Story(repository, gitHubId).ShouldBeEmpty();
    }

    [Fact]
    public async Task ASecondDeploymentToABusyEnvironment_IsRejectedAsAlreadyDeploying()
    {
        // The first deploy runs until the test has seen the second turned away.
        using var gate = new ScriptGate();
        var sha = repository.CommitDeployScript(gate.Wait());

        var (first, _) = await harness.DeployAsync(repository, sha);
        await harness.GitHub.WaitForStatusAsync(s => s.DeploymentId == first && s.State == "in_progress");
        var (second, secondId) = await harness.DeployAsync(repository, sha);
        var rejected = await harness.WaitForFinalStatusAsync(repository, second);

        (rejected.State, rejected.Description).ShouldBe(("error", "Already deploying."));
        harness.Story(repository, second).ShouldBe(["error: Already deploying."]);
        (await harness.DeploymentAsync(secondId)).State.ShouldBe(DeploymentState.Rejected);
        gate.Open();
        (await harness.WaitForFinalStatusAsync(repository, first)).State.ShouldBe("success");
    }

    [Fact]
    public async Task TwoEnvironments_DeployAtTheSameTime()
    {
        // Each waits until the other has started: they can only both finish if they run in parallel.
        var meeting = Path.Combine(Path.GetTempPath(), $"heaven-meet-{Guid.NewGuid():N}");
        Directory.CreateDirectory(meeting);
        var sha = repository.CommitDeployScript($"""
            touch {meeting}/$DEPLOY_ENV
            for i in $(seq 1 1200); do [ "$(ls {meeting} | wc -l)" -ge 2 ] && exit 0; sleep 0.05; done
            echo "the other environment never started" >&2; exit 1
            """);

        var (staging, _) = await harness.DeployAsync(repository, sha, environment: "staging");
        var (production, _) = await harness.DeployAsync(repository, sha, environment: "production");

        (await harness.WaitForFinalStatusAsync(repository, staging)).State.ShouldBe("success");
        (await harness.WaitForFinalStatusAsync(repository, production)).State.ShouldBe("success");
        Directory.Delete(meeting, recursive: true);
    }

    [Fact]
    public async Task Cancel_StopsTheRunningDeployAndReportsWhoCancelled()
    {
        var marker = $"heaven-cancel-{Guid.NewGuid():N}";
        var sha = repository.CommitDeployScript($"echo waiting\nexec -a {marker} sleep 60");
        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        await harness.GitHub.WaitForStatusAsync(s => s.DeploymentId == gitHubId && s.State == "in_progress");

        var outcome = await harness.Host.Services.GetRequiredService<DeploymentQueue>().RequestCancelAsync(heavenId, "alice", CancellationToken.None);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        outcome.ShouldBe(CancelOutcome.Requested);
        (final.State, final.Description).ShouldBe(("error", "Cancelled by alice"));
        (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Cancelled);
        (await ProcessTable.LeftoverAsync(marker)).ShouldBeEmpty();
    }

    [Fact]
    public async Task Secrets_AreMaskedInTheStoredLogAndTheGist_EvenEncodedOrSplit()
    {
        var token = DeployHarness.Token;
        var base64 = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(token));
        var sha = repository.CommitDeployScript($"""
            echo "plain {token}"
            echo "base64 {base64}"
            printf 'split {token[..10]}'; sleep 0.3; printf '{token[10..]} end\n'
            echo "url {Uri.EscapeDataString(token)}"
            """);

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");

        var log = await harness.LogAsync(heavenId);
        log.ShouldNotContain(token);
        log.ShouldNotContain(base64);
        log.ShouldNotContain(token[10..]);
        log.ShouldContain("plain ***");
        log.ShouldContain("base64 ***");
        log.ShouldContain("split *** end");
        var deployment = await harness.DeploymentAsync(heavenId);
        deployment.GistId.ShouldNotBeNull();
        var gist = harness.GitHub.Gist(deployment.GistId!);
        gist.Description.ShouldBe($"Heaven deployment {heavenId} for octo/app");
        gist.Public.ShouldBeFalse();
        var gistText = string.Concat(gist.Files.Values);
        gistText.ShouldContain("plain ***");
        gistText.ShouldNotContain(token);
        gistText.ShouldNotContain(base64);
    }

    [Fact]
    public async Task ATokenPrintedReversedOrInHex_IsMaskedInTheLog()
    {
        var token = DeployHarness.Token;
        var hex = Convert.ToHexStringLower(System.Text.Encoding.UTF8.GetBytes(token));
        var sha = repository.CommitDeployScript($$"""
            printf 'reversed %s\n' "$(printf %s '{{token}}' | rev)"
            printf 'hex %s\n' "$(printf %s '{{token}}' | od -An -v -tx1 | tr -d ' \n')"
            printf 'HEX %s\n' "$(printf %s '{{token}}' | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F)"
            """);

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");

        var log = await harness.LogAsync(heavenId);
        log.ShouldContain("reversed ***");
        log.ShouldContain("hex ***");
        log.ShouldContain("HEX ***");
        log.ShouldNotContain(new string(token.Reverse().ToArray()));
        log.ShouldNotContain(hex);
        log.ShouldNotContain(hex.ToUpperInvariant());
    }

    [Fact]
    public async Task GitHubFailingForAWhile_LosesNoStatus()
    {
        var sha = repository.CommitDeployScript("echo ok");
        harness.GitHub.FailNext("statuses", 500, times: 3);

        var (gitHubId, _) = await harness.DeployAsync(repository, sha);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("success");
        harness.Story(repository, gitHubId).Select(s => s.Split(':')[0]).ShouldBe(["in_progress", "success"]);
    }

    [Fact]
    public async Task TheCheckoutIsRemovedWhenTheDeploymentEnds()
    {
        var sha = repository.CommitDeployScript("pwd > /dev/null");

        var (gitHubId, _) = await harness.DeployAsync(repository, sha);
        await harness.WaitForFinalStatusAsync(repository, gitHubId);

        var worktrees = Path.Combine(harness.Host.DataDirectory, "worktrees");
        (Directory.Exists(worktrees) ? Directory.GetDirectories(worktrees) : []).ShouldBeEmpty();
    }
}
