using System.Text.Json.Nodes;
using Heaven.Deployments;
using Heaven.Model;
using Heaven.Providers;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Providers;

/// <summary>
/// The heroku provider end to end: a hubot-deploy webhook in (the original's fixture payloads), a
/// tarball link from the fake GitHub, a build on a fake Heroku Platform API whose output streams into
/// the log while it runs, and the statuses out.
/// </summary>
public sealed class HerokuProviderTests : IAsyncLifetime
{
    private readonly TestRepository repository = new("atmos/my-robot");
    private FakeHeroku heroku = null!;
    private DeployHarness harness = null!;

    public async Task InitializeAsync()
    {
        heroku = await FakeHeroku.StartAsync();
        harness = await StartHarnessAsync();
    }

    public async Task DisposeAsync()
    {
        await harness.DisposeAsync();
        await heroku.DisposeAsync();
        repository.Dispose();
    }

    [Fact]
    public async Task ADeploy_BuildsGitHubsTarballOfTheShaOnHeroku_AndReportsSuccess()
    {
        var sha = CommitWithTarball();

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: FixtureConfig("deployment.json"));
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("success");
        final.Description!.ShouldMatch($"^Deployed {sha[..8]} to production in \\d+s$");
        var tarball = harness.GitHub.RequestsTo("tarball").ShouldHaveSingleItem();
        tarball.RawPath.ShouldBe($"/api/v3/repos/atmos/my-robot/tarball/{sha}");
        tarball.Header("Authorization").ShouldBe($"Bearer {DeployHarness.Token}");
        var link = $"{harness.GitHub.ApiUrl}_codeload/atmos/my-robot/tar.gz/{sha}?token={harness.GitHub.TarballToken}";

        var create = heroku.RequestsTo("builds-create").ShouldHaveSingleItem();
        create.Method.ShouldBe("POST");
        create.Path.ShouldBe("/apps/zero-fucks-hubot/builds");
        create.Header("Authorization").ShouldBe($"Bearer {FakeHeroku.ApiKey}");
        create.Header("Accept").ShouldBe("application/vnd.heroku+json; version=3");
        create.Header("Content-Type").ShouldBe("application/json; charset=utf-8");
        create.Body.ShouldBe(new JsonObject { ["source_blob"] = new JsonObject { ["url"] = link, ["version"] = sha } }.ToJsonString());
        var build = heroku.Builds.ShouldHaveSingleItem();
        (build.SourceUrl, build.Version).ShouldBe((link, sha));
        heroku.RequestsTo("build").ShouldAllBe(r => r.Path == $"/apps/zero-fucks-hubot/builds/{build.Id}" && r.Header("Authorization") == $"Bearer {FakeHeroku.ApiKey}");
        // The output stream is another host in production: the key is not sent there.
        heroku.RequestsTo("stream").ShouldAllBe(r => r.Header("Authorization") == null);

        var log = await harness.LogAsync(heavenId);
        log.ShouldContain("-----> Building on the Heroku-24 stack\n-----> Launching...\n       Released v42\n");
        log.ShouldContain($"Creating a Heroku build of {sha[..8]} for app zero-fucks-hubot");
        log.ShouldContain($"Heroku build {build.Id} succeeded");
        log.ShouldNotContain(FakeHeroku.ApiKey);
        log.ShouldNotContain(harness.GitHub.TarballToken);
        log.ShouldNotContain("/streams/");
        (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Succeeded);
    }

    [Fact]
    public async Task TheBuildsOutput_IsInTheLogWhileTheBuildStillRuns()
    {
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        heroku.Plan("zero-fucks-hubot", new HerokuBuildPlan { Lines = ["-----> Ruby app detected", "-----> Installing bundler 2.5.6", "-----> Compiling assets"], Hold = hold });
        var sha = CommitWithTarball();

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: FixtureConfig("deployment.json"));
        await LogShowsAsync(harness, heavenId, "-----> Compiling assets");

        // Still building: Heroku says pending and GitHub has heard nothing final.
        heroku.Builds.ShouldHaveSingleItem().Status.ShouldBe("pending");
        harness.Story(repository, gitHubId).ShouldBe([$"in_progress: Deploying {sha[..8]} to production"]);
        (await harness.LogAsync(heavenId)).ShouldContain("-----> Ruby app detected\n-----> Installing bundler 2.5.6\n-----> Compiling assets\n");

        hold.SetResult();
        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");
    }

    [Fact]
    public async Task TheEnvironmentsOwnApp_IsUsed_FromTheStagingFixture()
    {
        heroku.Apps.Add("my-robot-staging");
        var sha = CommitWithTarball();
        var config = FixtureConfig("deployment_staging.json");
        config["heroku_staging_name"] = "my-robot-staging";
        config["heroku_name"] = "zero-fucks-hubot";

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, environment: "staging", config: config);

        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");
        heroku.RequestsTo("builds-create").ShouldHaveSingleItem().Path.ShouldBe("/apps/my-robot-staging/builds");
    }

    [Fact]
    public async Task AFailedBuild_IsAFailure_WithHerokusReason()
    {
        heroku.Plan("zero-fucks-hubot", new HerokuBuildPlan
        {
            Lines = ["-----> Ruby app detected", " !     Warning: you are using an old stack", " !     Push rejected, failed to compile Ruby app.", " !     Push failed"],
            Outcome = "failed",
        });
        var sha = CommitWithTarball();

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: FixtureConfig("deployment.json"));
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("failure", "heroku build failed: Push rejected, failed to compile Ruby app."));
        (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Failed);
        (await harness.LogAsync(heavenId)).ShouldContain(" !     Push failed");
    }

    [Fact]
    public async Task ASlowBuild_StreamsLineByLine_AcrossManyPolls()
    {
        var lines = Enumerable.Range(1, 8).Select(i => $"-----> step {i} of 8").ToList();
        // The build stops after three lines until the test has looked at the log.
        var resume = new TaskCompletionSource();
        heroku.Plan("zero-fucks-hubot", new HerokuBuildPlan { Lines = lines, LineDelay = TimeSpan.FromMilliseconds(250), Pause = (3, resume.Task) });
        var sha = CommitWithTarball();

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: FixtureConfig("deployment.json"));
        // Each line reaches the stored log while later ones are still to come.
        await LogShowsAsync(harness, heavenId, "step 3 of 8");
        (await harness.LogAsync(heavenId)).ShouldNotContain("step 4 of 8");
        resume.SetResult();
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("success");
        (await harness.LogAsync(heavenId)).ShouldContain(string.Join("\n", lines) + "\n");
        heroku.RequestsTo("build").Count.ShouldBeGreaterThanOrEqualTo(5);
    }

    [Fact]
    public async Task HerokuFailingForAMoment_IsRetried_WithoutASecondBuild()
    {
        heroku.FailNext("builds-create", 503, times: 2);
        heroku.FailNext("build", 500);
        var sha = CommitWithTarball();

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: FixtureConfig("deployment.json"));

        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");
        heroku.RequestsTo("builds-create").Select(r => r.Status).ShouldBe([503, 503, 201]);
        heroku.Builds.ShouldHaveSingleItem();
        (await harness.LogAsync(heavenId)).ShouldContain("Heroku answered 503 (service_unavailable: The fake is failing on purpose.); retrying in");
    }

    [Fact]
    public async Task AnInternalErrorWhenCreatingTheBuild_IsNotRetried_AndEndsErrored()
    {
        // A 500 may have started a build: asking again could deploy twice.
        heroku.FailNext("builds-create", 500);
        var sha = CommitWithTarball();

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, config: FixtureConfig("deployment.json"));
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "Creating a build for Heroku app zero-fucks-hubot: Heroku answered 500 (service_unavailable: The fake is failing on purpose.)"));
        heroku.RequestsTo("builds-create").ShouldHaveSingleItem();
    }

    [Fact]
    public async Task AnAppHerokuDoesNotHave_EndsErroredWithHerokusWords()
    {
        var sha = CommitWithTarball();

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, config: new JsonObject { ["provider"] = "heroku", ["heroku_name"] = "no-such-app" });
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "Creating a build for Heroku app no-such-app: Heroku answered 404 (not_found: Couldn't find that app.)"));
    }

    [Theory]
    [InlineData(null, "payload.config.heroku_production_name or payload.config.heroku_name is not set; the heroku provider needs the name of the Heroku app")]
    [InlineData("../../account", "'../../account' is not a Heroku app name (letters, digits and dashes)")]
    [InlineData("-rf", "'-rf' is not a Heroku app name (letters, digits and dashes)")]
    public async Task WithoutAUsableAppName_EndsErrored_AndNothingIsAsked(string? app, string expected)
    {
        var sha = CommitWithTarball();
        var config = new JsonObject { ["provider"] = "heroku" };
        if (app is not null)
        {
            config["heroku_name"] = app;
        }

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, config: config);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", expected));
        heroku.Requests.ShouldBeEmpty();
        harness.GitHub.RequestsTo("tarball").ShouldBeEmpty();
    }

    [Fact]
    public async Task WithoutAnApiKey_EndsErrored_NamingHerokuApiKey()
    {
        await using var keyless = await StartHarnessAsync(new Dictionary<string, string?> { ["Providers:Heroku:ApiKey"] = null });
        var sha = CommitWithTarball(keyless);

        var (gitHubId, _) = await keyless.DeployAsync(repository, sha, config: FixtureConfig("deployment.json"));
        var final = await keyless.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "Providers:Heroku:ApiKey (or HEROKU_API_KEY) is not set; the heroku provider needs a Heroku API key"));
        heroku.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task AWrongApiKey_EndsErrored_SayingHerokuRefusedIt()
    {
        await using var wrong = await StartHarnessAsync(new Dictionary<string, string?> { ["Providers:Heroku:ApiKey"] = "HRKU-not-the-right-key-0000000000" });
        var sha = CommitWithTarball(wrong);

        var (gitHubId, heavenId) = await wrong.DeployAsync(repository, sha, config: FixtureConfig("deployment.json"));
        var final = await wrong.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "Heroku refused the API key (401: unauthorized: Invalid credentials provided.); check Providers:Heroku:ApiKey (or HEROKU_API_KEY)"));
        (await wrong.LogAsync(heavenId)).ShouldNotContain("HRKU-not-the-right-key");
    }

    [Fact]
    public async Task GitHubHavingNoTarball_EndsErrored_WithoutAskingHeroku()
    {
        var sha = repository.Commit("app", new Dictionary<string, string> { ["Procfile"] = "web: bundle exec puma" });

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, config: FixtureConfig("deployment.json"));
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        final.Description!.ShouldStartWith($"Asking for the tarball of atmos/my-robot at {sha}: GitHub refused with 404");
        heroku.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task ABuildLongerThanTheTimeout_FailsAsTimedOut_AndTheLogSaysHerokuGoesOn()
    {
        // The provider's clock is a fake one: the deployment's 3 s run out when the test moves it on, once
        // the build's output is in the log, not while a busy machine is still creating the build.
        var clock = new TestClock(DateTimeOffset.UtcNow);
        await using var impatient = await StartHarnessAsync(
            new Dictionary<string, string?> { ["Deployments:Timeout"] = "3" },
            services => ProviderClock.RunOn<HerokuProvider>(services, clock));
        heroku.Plan("zero-fucks-hubot", new HerokuBuildPlan { Lines = ["-----> still compiling"], Hold = new TaskCompletionSource() });
        var sha = CommitWithTarball(impatient);

        var (gitHubId, heavenId) = await impatient.DeployAsync(repository, sha, config: FixtureConfig("deployment.json"));
        await LogShowsAsync(impatient, heavenId, "-----> still compiling");
        clock.Advance(TimeSpan.FromSeconds(3));
        var final = await impatient.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("failure", "timed out after 3s"));
        var log = await impatient.LogAsync(heavenId);
        log.ShouldContain("-----> still compiling");
        log.ShouldContain("Heroku builds cannot be stopped through the Platform API, so it may still finish and release on Heroku.");
    }

    [Fact]
    public async Task Cancel_StopsWaiting_AndTheLogSaysHerokuGoesOn()
    {
        heroku.Plan("zero-fucks-hubot", new HerokuBuildPlan { Lines = ["-----> compiling"], Hold = new TaskCompletionSource() });
        var sha = CommitWithTarball();
        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: FixtureConfig("deployment.json"));
        await LogShowsAsync(harness, heavenId, "-----> compiling");

        await harness.Host.Services.GetRequiredService<DeploymentQueue>().RequestCancelAsync(heavenId, "alice", CancellationToken.None);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "Cancelled by alice"));
        (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Cancelled);
        (await harness.LogAsync(heavenId)).ShouldContain($"Cancelled: stopped waiting for Heroku build {heroku.Builds.Single().Id}. Heroku builds cannot be stopped");
    }

    [Fact]
    public async Task AnAppOnTheRepositorysList_Deploys_AndOneOutsideIt_IsRefusedBeforeAnyRequest()
    {
        heroku.Apps.Add("b-prod");
        await using var listed = await StartHarnessAsync(new Dictionary<string, string?> { ["Repositories:atmos/my-robot:HerokuApps"] = "zero-fucks-hubot, my-robot-staging" });
        var sha = CommitWithTarball(listed);

        // Another repository's app, with the server's key: refused before GitHub or Heroku hear of it.
        var (refusedId, refusedHeavenId) = await listed.DeployAsync(repository, sha, config: new JsonObject { ["provider"] = "heroku", ["heroku_name"] = "b-prod" });
        var refused = await listed.WaitForFinalStatusAsync(repository, refusedId);

        (refused.State, refused.Description).ShouldBe(("error", "heroku app 'b-prod' is not allowed for atmos/my-robot: add it to Repositories:atmos/my-robot:HerokuApps"));
        heroku.Requests.ShouldBeEmpty();
        listed.GitHub.RequestsTo("tarball").ShouldBeEmpty();
        var log = await listed.LogAsync(refusedHeavenId);
        log.ShouldContain("heroku app 'b-prod' is not allowed for atmos/my-robot: add it to Repositories:atmos/my-robot:HerokuApps (allowed: zero-fucks-hubot, my-robot-staging).");
        log.ShouldContain("Errored: heroku app 'b-prod' is not allowed for atmos/my-robot: add it to Repositories:atmos/my-robot:HerokuApps");
        (await listed.DeploymentAsync(refusedHeavenId)).State.ShouldBe(DeploymentState.Errored);

        // Its own app deploys as before.
        var (allowedId, _) = await listed.DeployAsync(repository, sha, config: FixtureConfig("deployment.json"));
        (await listed.WaitForFinalStatusAsync(repository, allowedId)).State.ShouldBe("success");
        heroku.RequestsTo("builds-create").ShouldHaveSingleItem().Path.ShouldBe("/apps/zero-fucks-hubot/builds");
    }

    [Fact]
    public async Task RequireTargetLists_RefusesARepositoryWithoutAList_AndLetsOneWithAListDeploy()
    {
        using var other = new TestRepository("octo/listed");
        await using var strict = await StartHarnessAsync(new Dictionary<string, string?>
        {
            ["Providers:RequireTargetLists"] = "true",
            ["Repositories:octo/listed:HerokuApps"] = "zero-fucks-hubot",
        });
        var sha = CommitWithTarball(strict);

        var (gitHubId, heavenId) = await strict.DeployAsync(repository, sha, config: FixtureConfig("deployment.json"));
        var final = await strict.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "heroku app 'zero-fucks-hubot' is not allowed for atmos/my-robot: Providers:RequireTargetLists needs Repositories:atmos/my-robot:HerokuApps"));
        heroku.Requests.ShouldBeEmpty();
        (await strict.LogAsync(heavenId)).ShouldContain("Providers:RequireTargetLists is on and Repositories:atmos/my-robot:HerokuApps is not set");

        var otherSha = other.Commit("app", new Dictionary<string, string> { ["Procfile"] = "web: bundle exec puma" });
        strict.GitHub.SetTarball(other.FullName, otherSha, [0x1f, 0x8b, 0x08, 0x00]);
        var (listedId, _) = await strict.DeployAsync(other, otherSha, config: FixtureConfig("deployment.json"));
        (await strict.WaitForFinalStatusAsync(other, listedId)).State.ShouldBe("success");
        heroku.RequestsTo("builds-create").ShouldHaveSingleItem().Path.ShouldBe("/apps/zero-fucks-hubot/builds");
    }

    /// <summary>Waits until the stored log (what any node and the log page serve) has <paramref name="text"/>.</summary>
    internal static Task LogShowsAsync(DeployHarness on, long heavenId, string text) =>
        Poll.UntilAsync(
            async () => (await on.LogAsync(heavenId)).Contains(text, StringComparison.Ordinal),
            $"the log of deployment {heavenId} to show '{text}'",
            state: async () => "The log so far:\n" + await on.LogAsync(heavenId));

    private async Task<DeployHarness> StartHarnessAsync(Dictionary<string, string?>? overrides = null, Action<IServiceCollection>? overrideServices = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Providers:Heroku:ApiUrl"] = heroku.ApiUrl,
            ["Providers:Heroku:ApiKey"] = FakeHeroku.ApiKey,
            ["Providers:Heroku:PollInterval"] = "00:00:00.100",
            ["Providers:Heroku:RetryBase"] = "00:00:00.050",
            ["Deployments:Timeout"] = "30",
        };
        foreach (var (key, value) in overrides ?? [])
        {
            settings[key] = value;
        }

        return await DeployHarness.StartAsync(settings, overrideServices: overrideServices);
    }

    /// <summary>A commit of a small app whose tarball the fake GitHub serves.</summary>
    private string CommitWithTarball(DeployHarness? on = null)
    {
        var sha = repository.Commit("app", new Dictionary<string, string> { ["Procfile"] = "web: bundle exec puma", ["VERSION"] = Guid.NewGuid().ToString() });
        (on ?? harness).GitHub.SetTarball(repository.FullName, sha, [0x1f, 0x8b, 0x08, 0x00]);
        return sha;
    }

    /// <summary><c>payload.config</c> of one of the original Heaven's fixture deployments.</summary>
    private static JsonObject FixtureConfig(string fixture)
    {
        var root = JsonNode.Parse(Fixtures.Read(fixture))!;
        var deployment = root["deployment"] ?? root;
        return (JsonObject)deployment["payload"]!["config"]!.DeepClone();
    }
}
