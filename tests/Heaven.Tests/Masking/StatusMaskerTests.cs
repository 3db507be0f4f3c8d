using System.Text.Json.Nodes;
using Heaven.GitHub;
using Heaven.Statuses;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Masking;

/// <summary>
/// A deployment status is public on GitHub: whatever wrote its description (a provider, an exception,
/// the queue), a configured secret reaches GitHub as <c>***</c>, and a description is cut to GitHub's
/// 140 characters only after it was masked, so no piece of a secret survives the cut.
/// </summary>
public sealed class StatusMaskerTests : IAsyncLifetime
{
    private const string Token = DeployHarness.Token;

    private readonly TestRepository repository = new("octo/app");
    private DeployHarness harness = null!;

    public async Task InitializeAsync() => harness = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Deployments:Timeout"] = "10" });

    public async Task DisposeAsync()
    {
        await harness.DisposeAsync();
        repository.Dispose();
    }

    [Fact]
    public async Task AProviderFailure_ThatQuotesASecret_ShowsStarsOnGitHub()
    {
        // The token pasted where the script's path belongs: the shell provider quotes the path back.
        var sha = repository.CommitDeployScript("echo should not run");
        var config = new JsonObject { ["provider"] = "shell", ["deploy_script"] = $"script/{Token}" };

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: config);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        final.Description.ShouldBe("deploy script 'script/***' does not exist in the repository at this commit");
        harness.Story(repository, gitHubId).ShouldAllBe(s => !s.Contains(Token));
        (await harness.LogAsync(heavenId)).ShouldNotContain(Token);
    }

    [Fact]
    public async Task ADescriptionLongerThanGitHubKeeps_IsMaskedBeforeItIsCut()
    {
        // The secret straddles character 140: cut first, its first half would be left unmasked.
        var sha = repository.CommitDeployScript("echo should not run");
        var script = "script/" + new string('a', 100) + Token;
        var config = new JsonObject { ["provider"] = "shell", ["deploy_script"] = script };

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, config: config);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        final.Description!.ShouldStartWith($"deploy script 'script/{new string('a', 100)}***' does ");
        final.Description!.Length.ShouldBe(OctokitGitHub.MaxDescriptionLength);
        final.Description!.ShouldEndWith("…");
        final.Description!.ShouldNotContain(Token[..8]);
    }

    [Fact]
    public async Task AnExceptionMessage_ThatQuotesASecret_IsMaskedInTheStatusAndTheLog()
    {
        // A ref git refuses: the checkout's exception quotes it, and it becomes the error status.
        var sha = repository.CommitDeployScript("echo should not run");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, reference: $"release..{Token}");
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        final.Description!.ShouldStartWith("invalid ref 'release..***'");
        final.Description!.ShouldNotContain(Token);
        var log = await harness.LogAsync(heavenId);
        log.ShouldContain("invalid ref 'release..***'");
        log.ShouldNotContain(Token);
    }

    [Fact]
    public async Task EveryStatusEnqueued_IsMasked_WhoeverEnqueuesIt()
    {
        // Not only the runner: the queue, the admission and the locks enqueue statuses the same way.
        var poster = harness.Host.Services.GetRequiredService<IDeploymentStatusPoster>();
        var secret = HeavenTestHost.Secret;

        await poster.PostAsync(1, "octo/app", 4242, new DeploymentStatusRequest(GitHubDeploymentState.Error, $"refused: {Token} and {secret}", null, null, "production"), CancellationToken.None);
        var posted = await harness.GitHub.WaitForStatusAsync(s => s.DeploymentId == 4242, TimeSpan.FromSeconds(10));

        posted.Description.ShouldBe("refused: *** and ***");
    }
}

/// <summary>
/// A deployment's own secrets (the short-lived token in GitHub's tarball link) are known only to its
/// masker; the status that quotes one is masked with it too.
/// </summary>
public sealed class HerokuStatusMaskerTests : IAsyncLifetime
{
    private readonly TestRepository repository = new("atmos/my-robot");
    private FakeHeroku heroku = null!;
    private DeployHarness harness = null!;

    public async Task InitializeAsync()
    {
        heroku = await FakeHeroku.StartAsync();
        harness = await DeployHarness.StartAsync(new Dictionary<string, string?>
        {
            ["Providers:Heroku:ApiUrl"] = heroku.ApiUrl,
            ["Providers:Heroku:ApiKey"] = FakeHeroku.ApiKey,
            ["Providers:Heroku:PollInterval"] = "00:00:00.100",
            ["Deployments:Timeout"] = "30",
        });
    }

    public async Task DisposeAsync()
    {
        await harness.DisposeAsync();
        await heroku.DisposeAsync();
        repository.Dispose();
    }

    [Fact]
    public async Task ABuildFailure_ThatQuotesTheDeploymentsOwnSecret_ShowsStarsOnGitHub()
    {
        var token = harness.GitHub.TarballToken;
        heroku.Plan("zero-fucks-hubot", new HerokuBuildPlan
        {
            Lines = ["-----> Fetching source", $" !     Source {token} refused with key {FakeHeroku.ApiKey}"],
            Outcome = "failed",
        });
        var sha = repository.Commit("app", new Dictionary<string, string> { ["Procfile"] = "web: bundle exec puma" });
        harness.GitHub.SetTarball(repository.FullName, sha, [0x1f, 0x8b, 0x08, 0x00]);

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: new JsonObject { ["provider"] = "heroku", ["heroku_name"] = "zero-fucks-hubot" });
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("failure", "heroku build failed: Source *** refused with key ***"));
        (await harness.LogAsync(heavenId)).ShouldNotContain(token);
    }
}
