using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Access;
using Heaven.Tests.Access;
using Heaven.Tests.Infrastructure;
using static Heaven.Tests.Api.ApiAuthorizationTests;

namespace Heaven.Tests.Api;

/// <summary>What the API's actions ask of GitHub, and that the webhook GitHub sends back runs it; signed-in users' permissions.</summary>
public sealed class ApiActionsTests : IDisposable
{
    private readonly TestRepository repository = new("octo/app");

    public void Dispose() => repository.Dispose();

    private async Task<long> DeploySuccessfullyAsync(DeployHarness harness, string sha)
    {
        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, creator: "alice");
        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");
        return heavenId;
    }

    private async Task<string> RunCreatedAsync(DeployHarness harness, JsonObject created)
    {
        var (body, gitHubId) = DeploymentWebhook.ForCreated(repository, created);
        var response = await harness.Host.SendWebhookAsync("deployment", body);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State;
    }

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(status, text);
        return JsonDocument.Parse(text).RootElement;
    }

    [Fact]
    public async Task ListAndDetail_ShowDeploymentsNewestFirst_WithTheirStatuses()
    {
        await using var harness = await DeployHarness.StartAsync();
        var first = repository.CommitDeployScript("echo first");
        var firstId = await DeploySuccessfullyAsync(harness, first);
        var second = repository.CommitDeployScript("echo second");
        var secondId = await DeploySuccessfullyAsync(harness, second);
        var api = ApiClient.For(harness.Host);

        var list = await JsonAsync(await api.GetAsync("/deployments?repository=octo/app&environment=production&state=success&limit=5"), HttpStatusCode.OK);
        list.EnumerateArray().Select(d => d.GetProperty("id").GetInt64()).ShouldBe([secondId, firstId]);
        var item = list[0];
        (item.GetProperty("sha").GetString(), item.GetProperty("state").GetString(), item.GetProperty("environment").GetString(), item.GetProperty("creator").GetString()).ShouldBe((second, "success", "production", "alice"));
        foreach (var field in new[] { "githubDeploymentId", "repository", "ref", "task", "provider", "createdAt", "startedAt", "finishedAt", "description", "gistUrl" })
        {
            item.TryGetProperty(field, out _).ShouldBeTrue(field);
        }

        (await JsonAsync(await api.GetAsync("/deployments?limit=1"), HttpStatusCode.OK)).GetArrayLength().ShouldBe(1);
        (await JsonAsync(await api.GetAsync("/deployments?repository=octo/other"), HttpStatusCode.OK)).GetArrayLength().ShouldBe(0);

        var detail = await JsonAsync(await api.GetAsync($"/deployments/{firstId}"), HttpStatusCode.OK);
        detail.GetProperty("sha").GetString().ShouldBe(first);
        detail.GetProperty("statuses").EnumerateArray().Select(s => s.GetProperty("state").GetString()).ShouldBe(["in_progress", "success"]);
    }

    [Fact]
    public async Task Redeploy_AsksGitHubForTheSameCommit_NamingTheToken_AndTheWebhookBackRunsIt()
    {
        await using var harness = await DeployHarness.StartAsync();
        var sha = repository.CommitDeployScript("echo deployed");
        var heavenId = await DeploySuccessfullyAsync(harness, sha);
        var api = ApiClient.For(harness.Host, TokenScope.Deploy);

        var answer = await JsonAsync(await api.SendAsync(Request("POST", $"/deployments/{heavenId}/redeploy", null)), HttpStatusCode.Created);

        var created = harness.GitHub.CreatedDeployments.ShouldHaveSingleItem();
        answer.GetProperty("githubDeploymentId").GetInt64().ShouldBe((long)created["id"]!);
        answer.GetProperty("basedOn").GetInt64().ShouldBe(heavenId);
        var request = created["request"]!.AsObject();
        ((string?)request["ref"], (string?)request["environment"], (string?)request["task"]).ShouldBe((sha, "production", "deploy"));
        ((string?)request["description"])!.ShouldStartWith($"Redeploy {sha[..7]} by token test-deploy-");
        ((string?)request["payload"]!["notify"]!["user"])!.ShouldStartWith("token test-deploy-");
        (await RunCreatedAsync(harness, created)).ShouldBe("success");

        var finished = await JsonAsync(await api.GetAsync($"/deployments/{heavenId}"), HttpStatusCode.OK);
        finished.GetProperty("state").GetString().ShouldBe("success");
        var cancel = await api.SendAsync(Request("POST", $"/deployments/{heavenId}/cancel", null));
        (await ProblemAsync(cancel, HttpStatusCode.Conflict)).GetProperty("detail").GetString().ShouldBe($"Deployment {heavenId} has already finished; there is nothing to cancel.");
    }

    [Fact]
    public async Task RollbackAndDeployCommit_AskGitHubForTheRightCommit_AndTheWebhooksBackRunThem()
    {
        await using var harness = await DeployHarness.StartAsync();
        var api = ApiClient.For(harness.Host, TokenScope.Deploy);
        var rollback = "/repositories/octo/app/environments/production/rollback";
        var first = repository.CommitDeployScript("echo first");
        await DeploySuccessfullyAsync(harness, first);

        (await ProblemAsync(await api.SendAsync(Request("POST", rollback, null)), HttpStatusCode.Conflict)).GetProperty("detail").GetString()!.ShouldStartWith("Nothing to roll back to");
        harness.GitHub.CreatedDeployments.ShouldBeEmpty();

        var second = repository.CommitDeployScript("echo second");
        var deploy = await JsonAsync(await api.SendAsync(Request("POST", "/repositories/octo/app/environments/production/deployments", $$"""{"sha":"{{second}}"}""")), HttpStatusCode.Created);
        var deployed = harness.GitHub.CreatedDeployments.ShouldHaveSingleItem();
        deploy.GetProperty("githubDeploymentId").GetInt64().ShouldBe((long)deployed["id"]!);
        ((string?)deployed["request"]!["ref"], (string?)deployed["request"]!["environment"]).ShouldBe((second, "production"));
        (await RunCreatedAsync(harness, deployed)).ShouldBe("success");

        await JsonAsync(await api.SendAsync(Request("POST", rollback, null)), HttpStatusCode.Created);
        var rolledBack = harness.GitHub.CreatedDeployments.Last();
        ((string?)rolledBack["request"]!["ref"], (string?)rolledBack["request"]!["description"]).ShouldBe((first, $"Rollback to {first[..7]}"));
        (await RunCreatedAsync(harness, rolledBack)).ShouldBe("success");
        var now = await JsonAsync(await api.GetAsync("/deployments?repository=octo/app&limit=1"), HttpStatusCode.OK);
        now[0].GetProperty("sha").GetString().ShouldBe(first);
    }

    [Fact]
    public async Task AnEnvironmentNamedWithASlash_IsAddressedWithAnEncodedSlash_ForDeployRollbackAndLock()
    {
        await using var harness = await DeployHarness.StartAsync();
        var api = ApiClient.For(harness.Host, TokenScope.Deploy);
        const string environment = "/repositories/octo/app/environments/production%2Feu";
        var first = repository.CommitDeployScript("echo first");
        var (firstGitHubId, _) = await harness.DeployAsync(repository, first, environment: "production/eu");
        (await harness.WaitForFinalStatusAsync(repository, firstGitHubId)).State.ShouldBe("success");

        var second = repository.CommitDeployScript("echo second");
        await JsonAsync(await api.SendAsync(Request("POST", environment + "/deployments", $$"""{"sha":"{{second}}"}""")), HttpStatusCode.Created);
        var deployed = harness.GitHub.CreatedDeployments.ShouldHaveSingleItem();
        ((string?)deployed["request"]!["ref"], (string?)deployed["request"]!["environment"]).ShouldBe((second, "production/eu"));
        (await RunCreatedAsync(harness, deployed)).ShouldBe("success");

        await JsonAsync(await api.SendAsync(Request("POST", environment + "/rollback", null)), HttpStatusCode.Created);
        var rolledBack = harness.GitHub.CreatedDeployments.Last();
        ((string?)rolledBack["request"]!["ref"], (string?)rolledBack["request"]!["environment"]).ShouldBe((first, "production/eu"));

        var locked = await JsonAsync(await api.SendAsync(Request("PUT", environment + "/lock", """{"reason":"eu freeze"}""")), HttpStatusCode.Created);
        locked.GetProperty("environment").GetString().ShouldBe("production/eu");
        var locks = await JsonAsync(await api.GetAsync("/locks"), HttpStatusCode.OK);
        locks.EnumerateArray().Select(l => l.GetProperty("environment").GetString()).ShouldBe(["production/eu"]);
        (await api.SendAsync(Request("DELETE", environment + "/lock", null))).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await JsonAsync(await api.GetAsync("/locks"), HttpStatusCode.OK)).GetArrayLength().ShouldBe(0);
    }

    [Fact]
    public async Task AWrongMethodOnAKnownAddress_Is405WithAllow_AndAnUnknownAddressIs404()
    {
        await using var host = await HeavenTestHost.StartAsync();
        var api = ApiClient.For(host, TokenScope.Admin);

        var wrong = await api.SendAsync(Request("DELETE", "/deployments/12", null));
        var problem = await ProblemAsync(wrong, HttpStatusCode.MethodNotAllowed);
        wrong.Content.Headers.Allow.ShouldBe(["GET"]);
        problem.GetProperty("detail").GetString()!.ShouldStartWith("DELETE is not allowed on /api/v1/deployments/12; it answers GET.");

        var lockAddress = await api.SendAsync(Request("POST", "/repositories/octo/app/environments/production/lock", null));
        await ProblemAsync(lockAddress, HttpStatusCode.MethodNotAllowed);
        lockAddress.Content.Headers.Allow.ShouldBe(["DELETE", "PUT"]);

        // The route's constraint holds: "abc" is no deployment id, so no method would do.
        await ProblemAsync(await api.SendAsync(Request("DELETE", "/deployments/abc", null)), HttpStatusCode.NotFound);
        await ProblemAsync(await api.SendAsync(Request("GET", "/no-such-thing", null)), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ASignedInUser_ReadsWithReadPermission_ActsOnlyWithPush_AndOnlyWithTheAntiforgeryToken()
    {
        await using var github = await FakeGitHub.StartAsync();
        var settings = AccessTestKit.SignInSettings(github, ("Web:AllowedUsers:0", "octocat"));
        settings.Remove("GitHub:Token");
        settings.Remove("GitHub:ApiUrl");
        await using var harness = await DeployHarness.StartAsync(settings, gitHub: github);
        var sha = repository.CommitDeployScript("echo deployed");
        var heavenId = await DeploySuccessfullyAsync(harness, sha);
        using var browser = AccessTestKit.Browser(harness.Host);
        await AccessTestKit.SignInAsync(browser);
        var api = new ApiClient(browser);

        github.SetPermission("octo/app", "octocat", "none");
        (await ProblemAsync(await api.GetAsync($"/deployments/{heavenId}"), HttpStatusCode.Forbidden)).GetProperty("detail").GetString().ShouldBe("This needs read permission on octo/app; GitHub says octocat has none.");
        await ProblemAsync(await api.GetAsync($"/deployments/{heavenId}/log"), HttpStatusCode.Forbidden);
        await ProblemAsync(await api.GetAsync("/deployments?repository=octo/app"), HttpStatusCode.Forbidden);
        (await ProblemAsync(await api.GetAsync("/deployments"), HttpStatusCode.BadRequest)).GetProperty("detail").GetString()!.ShouldContain("name the repository");
    }

    [Fact]
    public async Task ASignedInReader_SeesButCannotDeploy_AndAPusherDeploysWithTheAntiforgeryToken()
    {
        await using var github = await FakeGitHub.StartAsync();
        var settings = AccessTestKit.SignInSettings(github, ("Web:AllowedUsers:0", "octocat"), ("Web:PermissionCacheSeconds", "0"));
        settings.Remove("GitHub:Token");
        settings.Remove("GitHub:ApiUrl");
        await using var harness = await DeployHarness.StartAsync(settings, gitHub: github);
        var sha = repository.CommitDeployScript("echo deployed");
        var heavenId = await DeploySuccessfullyAsync(harness, sha);
        using var browser = AccessTestKit.Browser(harness.Host);
        await AccessTestKit.SignInAsync(browser);
        var api = new ApiClient(browser);
        var antiforgery = await JsonAsync(await api.GetAsync("/antiforgery"), HttpStatusCode.OK);
        HttpRequestMessage Redeploy(bool withToken)
        {
            var request = Request("POST", $"/deployments/{heavenId}/redeploy", null);
            if (withToken)
            {
                request.Headers.Add(antiforgery.GetProperty("headerName").GetString()!, antiforgery.GetProperty("token").GetString());
            }

            return request;
        }

        github.SetPermission("octo/app", "octocat", "read");
        (await JsonAsync(await api.GetAsync($"/deployments/{heavenId}"), HttpStatusCode.OK)).GetProperty("sha").GetString().ShouldBe(sha);
        (await ProblemAsync(await api.SendAsync(Redeploy(withToken: true)), HttpStatusCode.Forbidden)).GetProperty("detail").GetString().ShouldBe("This needs push (write) permission on octo/app; GitHub says octocat has read only.");

        github.SetPermission("octo/app", "octocat", "write");
        (await ProblemAsync(await api.SendAsync(Redeploy(withToken: false)), HttpStatusCode.Forbidden)).GetProperty("detail").GetString()!.ShouldContain("X-Heaven-Antiforgery");
        harness.GitHub.CreatedDeployments.ShouldBeEmpty();

        var created = await JsonAsync(await api.SendAsync(Redeploy(withToken: true)), HttpStatusCode.Created);
        var sent = harness.GitHub.CreatedDeployments.ShouldHaveSingleItem();
        created.GetProperty("githubDeploymentId").GetInt64().ShouldBe((long)sent["id"]!);
        ((string?)sent["request"]!["description"]).ShouldBe($"Redeploy {sha[..7]} by octocat");
        (await RunCreatedAsync(harness, sent)).ShouldBe("success");
    }
}
