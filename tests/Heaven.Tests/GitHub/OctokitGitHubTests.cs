using System.Text.Json;
using Heaven.GitHub;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Heaven.Tests.GitHub;

/// <summary>The Octokit adapter against a real HTTP server answering like GitHub.</summary>
public sealed class OctokitGitHubTests : IAsyncLifetime
{
    private const string Token = "ghp_testtoken0123456789abcdefABCDEF0123";
    private const string Repository = "atmos/my-robot";
    private const long DeploymentId = 1875476;

    private readonly FakeTimeProvider time = new(DateTimeOffset.FromUnixTimeSeconds(1_900_000_000));
    private FakeGitHub fake = null!;

    public async Task InitializeAsync() => fake = await FakeGitHub.StartAsync();

    public async Task DisposeAsync() => await fake.DisposeAsync();

    [Theory]
    [InlineData(GitHubDeploymentState.Pending, "pending")]
    [InlineData(GitHubDeploymentState.Queued, "queued")]
    [InlineData(GitHubDeploymentState.InProgress, "in_progress")]
    [InlineData(GitHubDeploymentState.Success, "success")]
    [InlineData(GitHubDeploymentState.Failure, "failure")]
    [InlineData(GitHubDeploymentState.Error, "error")]
    [InlineData(GitHubDeploymentState.Inactive, "inactive")]
    public async Task EachState_IsPostedUnderGitHubsNameWithEveryField(GitHubDeploymentState state, string expected)
    {
        await Adapter().CreateDeploymentStatusAsync(
            Repository,
            DeploymentId,
            new DeploymentStatusRequest(state, "Deploying my-robot", "http://heaven.test/deployments/7", "https://my-robot.example.com", "production"),
            CancellationToken.None);

        var request = fake.RequestsTo("statuses").ShouldHaveSingleItem();
        request.Body.ShouldBe($$"""{"state":"{{expected}}","log_url":"http://heaven.test/deployments/7","description":"Deploying my-robot","environment_url":"https://my-robot.example.com","environment":"production"}""");
        var status = fake.StatusesFor(Repository, DeploymentId).ShouldHaveSingleItem();
        status.State.ShouldBe(expected);
    }

    [Fact]
    public async Task AStatus_GoesToTheEnterprisePathWithTheTokenAndHeavensUserAgent()
    {
        await Adapter().CreateDeploymentStatusAsync(Repository, DeploymentId, new DeploymentStatusRequest(GitHubDeploymentState.Success, "Deployed", null, null, null), CancellationToken.None);

        var request = fake.Requests.ShouldHaveSingleItem();
        request.Method.ShouldBe("POST");
        request.RawPath.ShouldBe($"/api/v3/repos/{Repository}/deployments/{DeploymentId}/statuses");
        // Octokit writes the scheme capitalised; GitHub reads it case-insensitively.
        request.Header("Authorization").ShouldBe($"Token {Token}");
        request.Header("User-Agent")!.ShouldStartWith("Heaven");
        request.Header("Accept").ShouldBe("application/vnd.github+json");
        request.Header("Content-Type")!.ShouldStartWith("application/json");
    }

    [Fact]
    public async Task UnsetOptionalFields_AreLeftOut()
    {
        await Adapter().CreateDeploymentStatusAsync(Repository, DeploymentId, new DeploymentStatusRequest(GitHubDeploymentState.Success, "Deployed", null, null, null), CancellationToken.None);

        fake.RequestsTo("statuses").ShouldHaveSingleItem().Body.ShouldBe("""{"state":"success","description":"Deployed"}""");
    }

    [Fact]
    public async Task ALongDescription_IsCutTo140CharactersEndingInAnEllipsis()
    {
        var description = "Deploying " + new string('x', 300);

        await Adapter().CreateDeploymentStatusAsync(Repository, DeploymentId, new DeploymentStatusRequest(GitHubDeploymentState.Failure, description, null, null, null), CancellationToken.None);

        var sent = fake.StatusesFor(Repository, DeploymentId).ShouldHaveSingleItem().Description!;
        sent.Length.ShouldBe(140);
        sent.ShouldBe(description[..139] + "…");
    }

    [Fact]
    public void Clamping_CountsCharactersNotUtf16Units()
    {
        var emoji = string.Concat(Enumerable.Repeat("🚀", 150));

        var clamped = OctokitGitHub.ClampDescription(emoji);

        clamped.EnumerateRunes().Count().ShouldBe(140);
        clamped.ShouldBe(string.Concat(Enumerable.Repeat("🚀", 139)) + "…");
        OctokitGitHub.ClampDescription(new string('a', 140)).ShouldBe(new string('a', 140));
    }

    [Fact]
    public async Task ServerError_IsTransient()
    {
        fake.FailNext("statuses", 500, message: "Server Error");

        var e = await Should.ThrowAsync<GitHubTransientException>(() => PostAsync(Adapter()));

        e.RetryAfter.ShouldBeNull();
        e.Message.ShouldContain("500");
        e.Message.ShouldContain("Server Error");
    }

    [Fact]
    public async Task SecondaryRateLimitWithRetryAfter_IsTransientWithThatWait()
    {
        fake.RateLimitNext("statuses", retryAfterSeconds: 7);

        var e = await Should.ThrowAsync<GitHubTransientException>(() => PostAsync(Adapter()));

        e.RetryAfter.ShouldBe(TimeSpan.FromSeconds(7));
        e.Message.ShouldContain("rate-limited");
    }

    [Fact]
    public async Task ExhaustedRateLimit_WaitsUntilTheReset()
    {
        fake.RateLimitExhaustedNext("statuses", time.GetUtcNow().AddSeconds(90));

        var e = await Should.ThrowAsync<GitHubTransientException>(() => PostAsync(Adapter()));

        e.RetryAfter.ShouldBe(TimeSpan.FromSeconds(90));
    }

    [Fact]
    public async Task TooManyRequests_IsTransient()
    {
        fake.FailNext("statuses", 429, message: "Too many requests", headers: new Dictionary<string, string> { ["Retry-After"] = "30" });

        var e = await Should.ThrowAsync<GitHubTransientException>(() => PostAsync(Adapter()));

        e.RetryAfter.ShouldBe(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task ValidationFailure_IsRejectedWithGitHubsMessageAndNoToken()
    {
        fake.FailNext("statuses", 422, message: "Validation Failed");

        var e = await Should.ThrowAsync<GitHubRejectedException>(() => PostAsync(Adapter()));

        e.StatusCode.ShouldBe(422);
        e.Message.ShouldContain("422");
        e.Message.ShouldContain("Validation Failed");
        e.ToString().ShouldNotContain(Token);
    }

    [Fact]
    public async Task BadCredentials_AreRejectedWithoutTheToken()
    {
        fake.FailNext("statuses", 401, message: "Bad credentials");

        var e = await Should.ThrowAsync<GitHubRejectedException>(() => PostAsync(Adapter()));

        e.StatusCode.ShouldBe(401);
        e.Message.ShouldContain("Bad credentials");
        e.ToString().ShouldNotContain(Token);
    }

    [Fact]
    public async Task PlainForbidden_IsRejected()
    {
        fake.FailNext("statuses", 403, message: "Resource not accessible by integration");

        var e = await Should.ThrowAsync<GitHubRejectedException>(() => PostAsync(Adapter()));

        e.StatusCode.ShouldBe(403);
    }

    [Fact]
    public async Task GitHubUnreachable_IsTransient()
    {
        var adapter = Adapter();
        await fake.StopAsync();

        var e = await Should.ThrowAsync<GitHubTransientException>(() => PostAsync(adapter));

        e.Message.ShouldContain("could not be reached");
    }

    [Fact]
    public async Task SlowGitHub_TimesOutAsTransient()
    {
        // GitHub never answers (until the fake is disposed).
        fake.Hold("statuses", new TaskCompletionSource().Task);

        var e = await Should.ThrowAsync<GitHubTransientException>(() => PostAsync(Adapter(TimeSpan.FromMilliseconds(300))));

        e.Message.ShouldContain("did not answer within 0.3 s");
        fake.Statuses.ShouldBeEmpty();
    }

    [Fact]
    public async Task CallerCancellation_IsNotMistakenForATimeout()
    {
        fake.Hold("statuses", new TaskCompletionSource().Task);
        using var cancel = new CancellationTokenSource();
        // Cancelled by the caller while GitHub has the request (and the adapter's own timeout is far off).
        _ = Poll.UntilAsync(() => fake.Waiting("statuses") == 1, "the status request to reach GitHub").ContinueWith(_ => cancel.Cancel(), TaskScheduler.Default);

        await Should.ThrowAsync<OperationCanceledException>(() => Adapter(TimeSpan.FromMinutes(5)).CreateDeploymentStatusAsync(
            Repository, DeploymentId, new DeploymentStatusRequest(GitHubDeploymentState.Success, "Deployed", null, null, null), cancel.Token));
    }

    [Fact]
    public async Task WithoutAToken_NothingIsSent()
    {
        var adapter = new OctokitGitHub(Options.Create(new GitHubOptions { ApiUrl = fake.ApiUrl }), time);

        var e = await Should.ThrowAsync<GitHubRejectedException>(() => PostAsync(adapter));

        e.Message.ShouldContain("GitHub:Token");
        fake.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task CreatingAGist_MakesASecretGistWithTheFiles()
    {
        var gist = await Adapter().CreateGistAsync(
            "Heaven deployment 7 of atmos/my-robot",
            new Dictionary<string, string> { ["deploy.log"] = "line 1\nline 2\n", ["Summary.MD"] = "# ok" },
            CancellationToken.None);

        var request = fake.RequestsTo("gists").ShouldHaveSingleItem();
        request.RawPath.ShouldBe("/api/v3/gists");
        request.Body.ShouldBe("""{"description":"Heaven deployment 7 of atmos/my-robot","public":false,"files":{"deploy.log":{"content":"line 1\nline 2\n"},"Summary.MD":{"content":"# ok"}}}""");
        gist.HtmlUrl.ShouldBe($"{fake.ApiUrl}gist/{gist.Id}");
        var stored = fake.Gist(gist.Id);
        stored.Public.ShouldBeFalse();
        stored.Description.ShouldBe("Heaven deployment 7 of atmos/my-robot");
        stored.Files.ShouldBe(new Dictionary<string, string> { ["deploy.log"] = "line 1\nline 2\n", ["Summary.MD"] = "# ok" }, ignoreOrder: true);
    }

    [Fact]
    public async Task UpdatingAGist_ReplacesAndDeletesFiles()
    {
        var adapter = Adapter();
        var gist = await adapter.CreateGistAsync("log", new Dictionary<string, string> { ["a.log"] = "one", ["b.log"] = "two" }, CancellationToken.None);

        await adapter.UpdateGistAsync(gist.Id, new Dictionary<string, string?> { ["a.log"] = "one\nmore", ["b.log"] = null }, CancellationToken.None);

        var request = fake.RequestsTo("gist-update").ShouldHaveSingleItem();
        request.Method.ShouldBe("PATCH");
        request.RawPath.ShouldBe($"/api/v3/gists/{gist.Id}");
        JsonDocument.Parse(request.Body).RootElement.GetProperty("files").GetRawText().ShouldBe("""{"a.log":{"content":"one\nmore"},"b.log":null}""");
        fake.Gist(gist.Id).Files.ShouldBe(new Dictionary<string, string> { ["a.log"] = "one\nmore" });
    }

    [Fact]
    public async Task UpdatingAMissingGist_IsRejected()
    {
        var e = await Should.ThrowAsync<GitHubRejectedException>(() => Adapter().UpdateGistAsync("nope", new Dictionary<string, string?> { ["a"] = "b" }, CancellationToken.None));

        e.StatusCode.ShouldBe(404);
    }

    [Fact]
    public async Task TheTarballLink_IsGitHubsRedirectTarget_NotFollowed()
    {
        const string sha = "3c9f42c76ce057eaabc3762e3ec46dd830976963";
        fake.SetTarball(Repository, sha, [1, 2, 3]);

        var link = await Adapter().GetTarballLinkAsync(Repository, sha, CancellationToken.None);

        link.ShouldBe(new Uri($"{fake.ApiUrl}_codeload/{Repository}/tar.gz/{sha}?token={fake.TarballToken}"));
        var request = fake.Requests.ShouldHaveSingleItem();
        (request.Method, request.RawPath, request.Status).ShouldBe(("GET", $"/api/v3/repos/{Repository}/tarball/{sha}", 302));
        request.Header("Authorization").ShouldBe($"Bearer {Token}");
        request.Header("Accept").ShouldBe("application/vnd.github+json");
        fake.RequestsTo("tarball-download").ShouldBeEmpty();
    }

    [Fact]
    public async Task TheTarballLinkOfAMissingRef_IsRejected_AndOfAGitHubHavingTrouble_IsTransient()
    {
        var missing = await Should.ThrowAsync<GitHubRejectedException>(() => Adapter().GetTarballLinkAsync(Repository, "no-such-branch", CancellationToken.None));
        missing.StatusCode.ShouldBe(404);
        missing.Message.ShouldBe($"Asking for the tarball of {Repository} at no-such-branch: GitHub refused with 404 (Not Found).");

        fake.FailNext("tarball", 502);
        var down = await Should.ThrowAsync<GitHubTransientException>(() => Adapter().GetTarballLinkAsync(Repository, "main", CancellationToken.None));
        down.Message.ShouldContain("GitHub answered 502");
        down.Message.ShouldNotContain(Token);
    }

    [Fact]
    public async Task Compare_ReadsTheCommitsAndTheLink_FromTheEnterprisePath()
    {
        fake.SetCompare(Repository, "aaa1111", "bbb2222", "ahead", 2, 0,
            new FakeCommit("c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1", "Fix the robot\n\nLong story.", "atmos"),
            new FakeCommit("c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2", "Ship it", null, "A. Person"));

        var comparison = await Adapter().CompareAsync(Repository, "aaa1111", "bbb2222", CancellationToken.None);

        fake.Requests.ShouldHaveSingleItem().RawPath.ShouldBe($"/api/v3/repos/{Repository}/compare/aaa1111...bbb2222");
        comparison.Status.ShouldBe("ahead");
        comparison.AheadBy.ShouldBe(2);
        comparison.TotalCommits.ShouldBe(2);
        comparison.HtmlUrl.ShouldBe($"{fake.ApiUrl}{Repository}/compare/aaa1111...bbb2222");
        comparison.Commits.Select(c => (c.Sha[..2], c.Message, c.AuthorLogin, c.AuthorName)).ShouldBe(
            [("c1", "Fix the robot\n\nLong story.", "atmos", "atmos"), ("c2", "Ship it", null, "A. Person")]);
    }

    [Fact]
    public async Task RepositoryReads_SendTheTokenOnlyInTheHeader_AndFilterOnGitHubsSide()
    {
        var payload = new System.Text.Json.Nodes.JsonObject { ["notify"] = new System.Text.Json.Nodes.JsonObject { ["room"] = "ops" } };
        var older = fake.AddDeployment(Repository, "1111111111111111111111111111111111111111", "production", payload, "main", "success");
        fake.AddDeployment(Repository, "2222222222222222222222222222222222222222", "staging", null, "main", "failure");

        var listed = await Adapter().ListDeploymentsAsync(Repository, "production", null, 5, CancellationToken.None);
        var statuses = await Adapter().ListDeploymentStatusesAsync(Repository, older, CancellationToken.None);

        var request = fake.RequestsTo("deployments-list").ShouldHaveSingleItem();
        request.Query.ShouldBe("?per_page=5&environment=production");
        request.Header("Authorization").ShouldBe($"Bearer {Token}");
        fake.Requests.ShouldAllBe(r => !r.Query.Contains(Token) && !r.Path.Contains(Token));
        var deployment = listed.ShouldHaveSingleItem();
        deployment.Id.ShouldBe(older);
        deployment.Environment.ShouldBe("production");
        // The nested payload arrives whole, not flattened to strings.
        deployment.PayloadJson.ShouldBe("""{"notify":{"room":"ops"}}""");
        statuses.ShouldHaveSingleItem().State.ShouldBe("success");
    }

    [Fact]
    public async Task CombinedStatusAndCheckRuns_AreRead()
    {
        fake.SetCombinedStatus(Repository, "abc", "pending", ("ci/test", "success"), ("ci/lint", "pending"));
        fake.SetCheckRuns(Repository, "abc", new FakeCheckRun("build"), new FakeCheckRun("e2e", "in_progress", null));

        var combined = await Adapter().GetCombinedStatusAsync(Repository, "abc", CancellationToken.None);
        var runs = await Adapter().ListCheckRunsAsync(Repository, "abc", CancellationToken.None);

        combined.State.ShouldBe("pending");
        combined.Statuses.Select(s => $"{s.Context}={s.State}").ShouldBe(["ci/test=success", "ci/lint=pending"]);
        runs.Select(r => $"{r.Name}={r.Status}/{r.Conclusion}").ShouldBe(["build=completed/success", "e2e=in_progress/"]);
        fake.RequestsTo("check-runs").ShouldHaveSingleItem().Query.ShouldBe("?filter=latest&per_page=100&page=1");
    }

    [Fact]
    public async Task CreatingADeployment_SendsExactlyTheRequest_AndSortsGitHubsRefusals()
    {
        var created = await Adapter().CreateDeploymentAsync(Repository, new NewDeploymentRequest("abc123", "deploy", "production", """{"name":"my-robot","auto_deploy":true}""", "Heaven auto deploy", false, ["ci/test"]), CancellationToken.None);

        fake.RequestsTo("deployments").ShouldHaveSingleItem().Body.ShouldBe(
            """{"ref":"abc123","task":"deploy","auto_merge":false,"payload":{"name":"my-robot","auto_deploy":true},"environment":"production","description":"Heaven auto deploy","required_contexts":["ci/test"]}""");
        created.Environment.ShouldBe("production");
        created.PayloadJson.ShouldBe("""{"name":"my-robot","auto_deploy":true}""");

        fake.FailNext("deployments", 422, message: "Validation Failed");
        var refused = await Should.ThrowAsync<GitHubRejectedException>(() => Adapter().CreateDeploymentAsync(Repository, new NewDeploymentRequest("abc123", "deploy", "production", "{}", "d", false, null), CancellationToken.None));
        refused.StatusCode.ShouldBe(422);
        refused.Message.ShouldNotContain(Token);
        fake.FailNext("deployments", 503);
        await Should.ThrowAsync<GitHubTransientException>(() => Adapter().CreateDeploymentAsync(Repository, new NewDeploymentRequest("abc123", "deploy", "production", "{}", "d", false, null), CancellationToken.None));
    }

    private OctokitGitHub Adapter(TimeSpan? requestTimeout = null) => new(
        Options.Create(new GitHubOptions { Token = Token, ApiUrl = fake.ApiUrl, RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(10) }),
        time);

    private static Task PostAsync(OctokitGitHub adapter) => adapter.CreateDeploymentStatusAsync(
        Repository, DeploymentId, new DeploymentStatusRequest(GitHubDeploymentState.Success, "Deployed", null, null, null), CancellationToken.None);
}
