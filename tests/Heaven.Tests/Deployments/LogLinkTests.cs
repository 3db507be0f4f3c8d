using System.Net;
using System.Text.Json.Nodes;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Deployments;

/// <summary>Every status links to the log a person can open from GitHub, and to the deployed site.</summary>
public sealed class LogLinkTests
{
    [Fact]
    public async Task WithAPublicUrl_StatusesLinkToHeavensOwnSignedLogPage()
    {
        using var repository = new TestRepository();
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Heaven:PublicUrl"] = "https://heaven.example.com/" });
        var sha = repository.CommitDeployScript($"echo hello from the deploy\necho token {DeployHarness.Token}");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: new JsonObject
        {
            ["provider"] = "shell",
            ["deploy_script"] = "script/deploy",
            ["production_url"] = "https://app.example.com",
        });
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.LogUrl!.ShouldStartWith($"https://heaven.example.com/deployments/{heavenId}/log?token=");
        final.EnvironmentUrl.ShouldBe("https://app.example.com");
        harness.GitHub.StatusesFor(repository.FullName, gitHubId).ShouldAllBe(s => s.LogUrl == final.LogUrl);

        var page = await harness.Host.Client.GetAsync(new Uri(final.LogUrl!).PathAndQuery);
        page.StatusCode.ShouldBe(HttpStatusCode.OK);
        page.Content.Headers.ContentType!.MediaType.ShouldBe("text/plain");
        page.Headers.CacheControl!.NoStore.ShouldBeTrue();
        var text = await page.Content.ReadAsStringAsync();
        text.ShouldContain("hello from the deploy");
        text.ShouldContain("token ***");
        text.ShouldNotContain(DeployHarness.Token);
    }

    [Fact]
    public async Task AWrongOrMissingToken_ShowsNothing()
    {
        using var repository = new TestRepository();
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Heaven:PublicUrl"] = "https://heaven.example.com" });
        var sha = repository.CommitDeployScript("echo secret business");
        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);
        var otherDeploymentsLink = new Uri(final.LogUrl!).Query;

        (await harness.Host.Client.GetAsync($"/deployments/{heavenId}/log")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await harness.Host.Client.GetAsync($"/deployments/{heavenId}/log?token=0000")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await harness.Host.Client.GetAsync($"/deployments/{heavenId + 1}/log{otherDeploymentsLink}")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task WithoutAPublicUrl_StatusesLinkToTheGist()
    {
        using var repository = new TestRepository();
        await using var harness = await DeployHarness.StartAsync();
        var sha = repository.CommitDeployScript("echo to the gist");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        var deployment = await harness.DeploymentAsync(heavenId);
        final.LogUrl.ShouldBe(deployment.GistUrl);
        final.LogUrl!.ShouldStartWith(harness.GitHub.ApiUrl.TrimEnd('/') + "/gist/");
        string.Concat(harness.GitHub.Gist(deployment.GistId!).Files.Values).ShouldContain("to the gist");
    }
}
