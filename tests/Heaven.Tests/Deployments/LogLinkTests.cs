using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Heaven.Tests.Infrastructure;
using Heaven.Web;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

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

        final.LogUrl!.ShouldMatch($"^https://heaven\\.example\\.com/deployments/{heavenId}/log\\?expires=[0-9]+&token=[0-9a-f]{{40}}$");
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

        // Without a token it is no log link: the sign-in wall answers, with nothing of the log.
        var unsigned = await harness.Host.Client.GetAsync($"/deployments/{heavenId}/log");
        unsigned.RequestMessage!.RequestUri!.AbsolutePath.ShouldBe("/signin");
        (await unsigned.Content.ReadAsStringAsync()).ShouldNotContain("secret business");
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

    [Fact]
    public async Task ALink_OpensTheLogForItsLifetime_ThenSaysItHasExpired()
    {
        var clock = new TestClock(DateTimeOffset.UtcNow);
        // A whole number is a number of days.
        await using var host = await StartWithoutDeploysAsync(clock, lifetime: "2");
        var id = await ReceiveADeploymentAsync(host);
        var link = await LinkAsync(host, id);

        (await host.Client.GetAsync(link)).StatusCode.ShouldBe(HttpStatusCode.OK);
        clock.Advance(TimeSpan.FromDays(2) - TimeSpan.FromSeconds(2));
        (await host.Client.GetAsync(link)).StatusCode.ShouldBe(HttpStatusCode.OK);

        clock.Advance(TimeSpan.FromSeconds(3));
        var expired = await host.Client.GetAsync(link);

        expired.StatusCode.ShouldBe(HttpStatusCode.Gone);
        expired.Headers.CacheControl!.NoStore.ShouldBeTrue();
        (await expired.Content.ReadAsStringAsync()).ShouldStartWith("This log link has expired.");
    }

    [Fact]
    public async Task ALinkWhoseExpiryWasChanged_OpensNothing()
    {
        var clock = new TestClock(DateTimeOffset.UtcNow);
        await using var host = await StartWithoutDeploysAsync(clock, lifetime: "1.00:00:00");
        var id = await ReceiveADeploymentAsync(host);
        var link = await LinkAsync(host, id);
        var expires = long.Parse(Query(link, "expires"), CultureInfo.InvariantCulture);
        var later = link.Replace($"expires={expires}", $"expires={expires + 86_400}", StringComparison.Ordinal);
        var gone = link.Replace($"expires={expires}&", "", StringComparison.Ordinal);

        clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1));

        var tampered = await host.Client.GetAsync(later);
        tampered.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await tampered.Content.ReadAsStringAsync()).ShouldContain("No such log.");
        (await host.Client.GetAsync(gone)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await host.Client.GetAsync(link.Replace($"expires={expires}", "expires=x", StringComparison.Ordinal))).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task RotateLogLinks_EndsEveryLinkIssuedBefore_AndNewLinksWork()
    {
        await using var host = await StartWithoutDeploysAsync(clock: null, lifetime: null);
        var id = await ReceiveADeploymentAsync(host);
        var old = await LinkAsync(host, id);
        (await host.Client.GetAsync(old)).StatusCode.ShouldBe(HttpStatusCode.OK);

        var (exit, output, error) = await HeavenProcess.RunAsync(
            new Dictionary<string, string>
            {
                ["HEAVEN_DATA_DIR"] = host.DataDirectory,
                ["GITHUB_WEBHOOK_SECRET"] = HeavenTestHost.Secret,
            },
            "rotate-log-links");

        exit.ShouldBe(0, error);
        output.ShouldStartWith("Replaced the log-link key at ");
        output.ShouldContain("Every log link issued before now");
        (await host.Client.GetAsync(old)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        var fresh = await LinkAsync(host, id);
        fresh.ShouldNotBe(old);
        (await host.Client.GetAsync(fresh)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task ALinkFromBeforeLinksExpired_LivesItsLifetimeFromTheDeploymentsArrival()
    {
        var clock = new TestClock(DateTimeOffset.UtcNow);
        await using var host = await StartWithoutDeploysAsync(clock, lifetime: "30");
        var id = await ReceiveADeploymentAsync(host);
        // What such a link carried: an HMAC of "deployment-log:<id>" with the same server key (made
        // with the first link), and no expiry.
        _ = await LinkAsync(host, id);
        var key = await host.QueryAsync(db => db.ServerKeys.Where(k => k.Name == LogLinks.KeyName).Select(k => k.Value).SingleAsync());
        var mac = HMACSHA256.HashData(Convert.FromHexString(key), Encoding.UTF8.GetBytes($"deployment-log:{id}"));
        var legacy = $"/deployments/{id}/log?token={Convert.ToHexStringLower(mac.AsSpan(0, 20))}";

        (await host.Client.GetAsync(legacy)).StatusCode.ShouldBe(HttpStatusCode.OK);
        clock.Advance(TimeSpan.FromDays(30) + TimeSpan.FromSeconds(1));
        (await host.Client.GetAsync(legacy)).StatusCode.ShouldBe(HttpStatusCode.Gone);
    }

    /// <summary>Heaven that receives deployments without running them, optionally on a test clock.</summary>
    private static Task<HeavenTestHost> StartWithoutDeploysAsync(TestClock? clock, string? lifetime) =>
        HeavenTestHost.StartAsync(
            new Dictionary<string, string?> { ["Heaven:PublicUrl"] = "https://heaven.example.com", ["Heaven:LogLinkLifetime"] = lifetime },
            overrideServices: clock is null ? null : services => services.AddSingleton<TimeProvider>(clock));

    private static async Task<long> ReceiveADeploymentAsync(HeavenTestHost host)
    {
        (await host.SendWebhookAsync("deployment", Fixtures.Read("deployment.json"))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        return await host.QueryAsync(db => db.Deployments.Select(d => d.Id).SingleAsync());
    }

    /// <summary>A link as a status would carry it, as the path and query to ask Heaven for.</summary>
    private static async Task<string> LinkAsync(HeavenTestHost host, long id)
    {
        var url = await host.Services.GetRequiredService<LogLinks>().LogUrlAsync(id, CancellationToken.None);
        return new Uri(url!).PathAndQuery;
    }

    private static string Query(string link, string name) =>
        link[(link.IndexOf('?', StringComparison.Ordinal) + 1)..].Split('&').Select(p => p.Split('=', 2)).Single(p => p[0] == name)[1];
}
