using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Intake;
using Heaven.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Heaven.Tests.Intake;

/// <summary>
/// The optional source-address check (<c>Webhooks:VerifySourceAddress</c>) against a fake GitHub
/// (<see cref="FakeGitHub"/>) serving <c>/api/v3/meta</c> over real HTTP on 127.0.0.1. Heaven's clients connect from 127.0.0.1,
/// so "inside the ranges" means ranges that hold loopback, and the fixture's 192.30.252.0/22 means outside.
/// </summary>
public sealed class SourceAddressTests : IAsyncLifetime
{
    private const string GitHubRanges = "192.30.252.0/22";

    private readonly List<HeavenTestHost> hosts = [];
    private FakeGitHub github = null!;
    private long nextDeploymentId = 1000;

    public async Task InitializeAsync() => github = await FakeGitHub.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var host in hosts)
        {
            await host.DisposeAsync();
        }

        await github.DisposeAsync();
    }

    [Fact]
    public async Task CheckOff_MakesNoMetaRequestAndAcceptsTheDelivery()
    {
        github.ServeMetaHooks(GitHubRanges);
        var host = await StartHeavenAsync(verify: false);

        var response = await SendDeploymentAsync(host);

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        github.RequestsTo("meta").ShouldBeEmpty();
    }

    [Fact]
    public async Task SenderInsideTheHookRanges_IsAccepted()
    {
        github.ServeMetaHooks(GitHubRanges, "127.0.0.0/8");
        var host = await StartHeavenAsync();

        var response = await SendDeploymentAsync(host);

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await host.CountsAsync()).Deployments.ShouldBe(1);
        var request = github.RequestsTo("meta").ShouldHaveSingleItem();
        request.Method.ShouldBe("GET");
        request.RawPath.ShouldBe("/api/v3/meta");
        request.Header("Accept").ShouldBe("application/vnd.github+json");
        request.Header("User-Agent")!.ShouldStartWith("Heaven");
        request.Header("Authorization").ShouldBeNull();
    }

    [Fact]
    public async Task ConfiguredToken_IsSentAsBearer()
    {
        github.ServeMetaHooks("127.0.0.0/8");
        var host = await StartHeavenAsync(settings: new() { ["GitHub:Token"] = "ghp_testtoken0123456789" });

        (await SendDeploymentAsync(host)).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        github.RequestsTo("meta").ShouldHaveSingleItem().Header("Authorization").ShouldBe("Bearer ghp_testtoken0123456789");
    }

    [Fact]
    public async Task SenderOutsideTheHookRanges_Returns403AndStoresNothing()
    {
        github.ServeMetaBody(Fixtures.Read("meta.json"));
        var host = await StartHeavenAsync();

        var response = await SendDeploymentAsync(host);

        await ShouldBeRejectedAsync(host, response, HttpStatusCode.Forbidden, "127.0.0.1 is not in the hook ranges");
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.0/8")]
    public async Task TrustedProxy_ForwardedForInsideTheRanges_IsAccepted(string proxy)
    {
        github.ServeMetaHooks(GitHubRanges);
        var host = await StartHeavenAsync(settings: new() { ["Webhooks:TrustedProxies:0"] = proxy });

        var response = await SendDeploymentAsync(host, forwardedFor: "192.30.252.1");

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task TrustedProxy_ForwardedForOutsideTheRanges_Returns403()
    {
        github.ServeMetaHooks(GitHubRanges, "127.0.0.0/8");
        var host = await StartHeavenAsync(settings: new() { ["Webhooks:TrustedProxies:0"] = "127.0.0.1" });

        // The proxy itself is inside the ranges; the sender it forwards for is not.
        var response = await SendDeploymentAsync(host, forwardedFor: "203.0.113.9");

        await ShouldBeRejectedAsync(host, response, HttpStatusCode.Forbidden, "203.0.113.9 is not in the hook ranges");
    }

    [Fact]
    public async Task TrustedProxy_EntriesTheSenderWroteBeforeTheProxysOwnAreIgnored()
    {
        github.ServeMetaHooks(GitHubRanges);
        var host = await StartHeavenAsync(settings: new() { ["Webhooks:TrustedProxies:0"] = "127.0.0.1" });

        // A proxy appends the address it saw; what the sender put in front of it proves nothing.
        var response = await SendDeploymentAsync(host, forwardedFor: "192.30.252.1, 203.0.113.9");

        await ShouldBeRejectedAsync(host, response, HttpStatusCode.Forbidden, "203.0.113.9");
    }

    [Theory]
    [InlineData("2a0a:a440::5", HttpStatusCode.Accepted)]
    [InlineData("2a0a:a447:ffff::1", HttpStatusCode.Accepted)]
    [InlineData("2a0a:a448::1", HttpStatusCode.Forbidden)]
    public async Task TrustedProxy_ForwardedIPv6Sender_IsMatchedAgainstIPv6Ranges(string sender, HttpStatusCode expected)
    {
        github.ServeMetaHooks(GitHubRanges, "2a0a:a440::/29");
        var host = await StartHeavenAsync(settings: new() { ["Webhooks:TrustedProxies:0"] = "127.0.0.1" });

        var response = await SendDeploymentAsync(host, forwardedFor: sender);

        response.StatusCode.ShouldBe(expected);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("10.0.0.0/8")]
    public async Task ForwardedForFromAnUntrustedPeer_IsIgnored(string? trustedProxy)
    {
        github.ServeMetaBody(Fixtures.Read("meta.json"));
        var host = await StartHeavenAsync(settings: new() { ["Webhooks:TrustedProxies:0"] = trustedProxy });

        var response = await SendDeploymentAsync(host, forwardedFor: "192.30.252.1");

        await ShouldBeRejectedAsync(host, response, HttpStatusCode.Forbidden, "127.0.0.1 is not in the hook ranges");
    }

    [Fact]
    public async Task RangesAreCachedForTheRefreshInterval()
    {
        github.ServeMetaHooks("127.0.0.0/8");
        var clock = new FakeTimeProvider();
        var host = await StartHeavenAsync(clock: clock, settings: new() { ["Webhooks:MetaRefreshInterval"] = "00:30:00" });

        (await SendDeploymentAsync(host)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        clock.Advance(TimeSpan.FromMinutes(29));
        (await SendDeploymentAsync(host)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        github.RequestsTo("meta").Count.ShouldBe(1);

        // New ranges that exclude loopback take effect at the next refresh.
        github.ServeMetaBody(Fixtures.Read("meta.json"));
        clock.Advance(TimeSpan.FromMinutes(2));
        (await SendDeploymentAsync(host)).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        github.RequestsTo("meta").Count.ShouldBe(2);
    }

    [Fact]
    public async Task MetaFailingAfterOneSuccess_KeepsUsingTheLastKnownGoodRanges()
    {
        github.ServeMetaHooks("127.0.0.0/8");
        var clock = new FakeTimeProvider();
        var host = await StartHeavenAsync(clock: clock);
        (await SendDeploymentAsync(host)).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        github.FailMeta(500);
        clock.Advance(TimeSpan.FromMinutes(61));
        (await SendDeploymentAsync(host)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        github.RequestsTo("meta").Count.ShouldBe(2);

        // A failed refresh is not retried on every delivery.
        clock.Advance(TimeSpan.FromSeconds(10));
        (await SendDeploymentAsync(host)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        github.RequestsTo("meta").Count.ShouldBe(2);

        clock.Advance(GitHubMetaRanges.RetryAfterFailure);
        (await SendDeploymentAsync(host)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        github.RequestsTo("meta").Count.ShouldBe(3);
    }

    [Fact]
    public async Task MetaAnsweringAnEmptyHooksList_DoesNotReplaceTheKnownRanges()
    {
        github.ServeMetaHooks("127.0.0.0/8");
        var clock = new FakeTimeProvider();
        var host = await StartHeavenAsync(clock: clock);
        (await SendDeploymentAsync(host)).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        github.ServeMetaBody("{\"hooks\": []}");
        clock.Advance(TimeSpan.FromMinutes(61));

        (await SendDeploymentAsync(host)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        github.RequestsTo("meta").Count.ShouldBe(2);
    }

    [Fact]
    public async Task LastKnownGoodCopy_SurvivesARestartWhileMetaIsDown()
    {
        using var data = new TemporaryDirectory();
        var settings = new Dictionary<string, string?> { ["DataDirectory"] = data.Path };
        github.ServeMetaHooks("127.0.0.0/8");
        var first = await StartHeavenAsync(settings: settings);
        (await SendDeploymentAsync(first)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        hosts.Remove(first);
        await first.DisposeAsync();

        var file = Path.Combine(data.Path, SavedHookRanges.FileName);
        using (var saved = JsonDocument.Parse(await File.ReadAllTextAsync(file)))
        {
            saved.RootElement.GetProperty("source").GetString().ShouldBe(new Uri(new Uri(github.ApiUrl), "/api/v3/meta").AbsoluteUri);
            saved.RootElement.GetProperty("hooks").EnumerateArray().Select(h => h.GetString()).ShouldBe(["127.0.0.0/8"]);
        }

        Directory.GetFiles(data.Path, "*.tmp").ShouldBeEmpty();

        github.FailMeta(503);
        var second = await StartHeavenAsync(settings: settings);

        (await SendDeploymentAsync(second)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        github.RequestsTo("meta").Count.ShouldBe(2);
    }

    [Fact]
    public async Task SavedCopyFromAnotherGitHub_IsNotUsed()
    {
        using var data = new TemporaryDirectory();
        await File.WriteAllTextAsync(
            Path.Combine(data.Path, SavedHookRanges.FileName),
            """{"source": "https://ghe.example.com/api/v3/meta", "fetched_at": "2026-01-01T00:00:00+00:00", "hooks": ["127.0.0.0/8"]}""");
        github.FailMeta(500);
        var host = await StartHeavenAsync(settings: new() { ["DataDirectory"] = data.Path });

        var response = await SendDeploymentAsync(host);

        await ShouldBeRejectedAsync(host, response, HttpStatusCode.ServiceUnavailable, "cannot verify the sender's address");
    }

    [Fact]
    public async Task RangesNeverObtained_Returns503AndStoresNothing()
    {
        github.FailMeta(500);
        var host = await StartHeavenAsync();

        var response = await SendDeploymentAsync(host);

        await ShouldBeRejectedAsync(host, response, HttpStatusCode.ServiceUnavailable, "Heaven cannot verify the sender's address: GitHub's /meta could not be read");
    }

    [Fact]
    public async Task GitHubUnreachable_Returns503()
    {
        // Nothing listens on port 1 of the loopback interface: the connection is refused at once.
        var host = await StartHeavenAsync(settings: new() { ["GitHub:ApiUrl"] = "http://127.0.0.1:1/" });

        var response = await SendDeploymentAsync(host);

        await ShouldBeRejectedAsync(host, response, HttpStatusCode.ServiceUnavailable, "cannot verify the sender's address");
    }

    [Fact]
    public async Task RangesNeverObtained_AreFetchedAgainAfterTheRetryDelay()
    {
        github.FailMeta(500);
        var clock = new FakeTimeProvider();
        var host = await StartHeavenAsync(clock: clock);
        (await SendDeploymentAsync(host)).StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await SendDeploymentAsync(host)).StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        github.RequestsTo("meta").Count.ShouldBe(1);

        github.ServeMetaHooks("127.0.0.0/8");
        clock.Advance(GitHubMetaRanges.RetryAfterFailure);

        (await SendDeploymentAsync(host)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        github.RequestsTo("meta").Count.ShouldBe(2);
    }

    [Fact]
    public async Task ConcurrentDeliveries_ShareOneMetaFetch()
    {
        github.ServeMetaHooks("127.0.0.0/8");
        github.Delay("meta", TimeSpan.FromMilliseconds(300));
        var host = await StartHeavenAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => SendDeploymentAsync(host)));

        responses.ShouldAllBe(r => r.StatusCode == HttpStatusCode.Accepted);
        github.RequestsTo("meta").Count.ShouldBe(1);
    }

    [Theory]
    [InlineData("https://api.github.com/", "https://api.github.com/meta")]
    [InlineData("https://api.github.com", "https://api.github.com/meta")]
    [InlineData("https://github.com/", "https://api.github.com/meta")]
    [InlineData("https://ghe.example.com/api/v3", "https://ghe.example.com/api/v3/meta")]
    [InlineData("https://ghe.example.com/api/v3/", "https://ghe.example.com/api/v3/meta")]
    [InlineData("https://ghe.example.com", "https://ghe.example.com/api/v3/meta")]
    [InlineData("http://127.0.0.1:5000/", "http://127.0.0.1:5000/api/v3/meta")]
    [InlineData("https://user:secret@ghe.example.com:8443/api/v3", "https://ghe.example.com:8443/api/v3/meta")]
    public void MetaUrl_FollowsOctokitsRuleForGitHubAndGitHubEnterprise(string apiUrl, string expected)
    {
        GitHubMetaRanges.MetaUrlFor(apiUrl).AbsoluteUri.ShouldBe(expected);
    }

    [Theory]
    [InlineData("::1", true)]
    [InlineData("::2", false)]
    [InlineData("2a0a:a440::1", true)]
    [InlineData("2a0a:a447:ffff:ffff:ffff:ffff:ffff:ffff", true)]
    [InlineData("2a0a:a448::", false)]
    [InlineData("192.30.252.1", true)]
    [InlineData("192.30.255.255", true)]
    [InlineData("192.30.251.255", false)]
    [InlineData("::ffff:192.30.252.7", true)]
    [InlineData("::ffff:10.0.0.1", false)]
    [InlineData("140.82.112.1", true)]
    public void Ranges_MatchIPv4AndIPv6AndIPv4MappedAddresses(string address, bool inside)
    {
        var ranges = HookRanges.Parse(["192.30.252.0/22", "2a0a:a440::/29", "::1/128", "140.82.112.0/20"], out var unreadable);

        unreadable.ShouldBeEmpty();
        ranges.Contains(IPAddress.Parse(address)).ShouldBe(inside);
    }

    [Fact]
    public void Ranges_SkipEntriesThatAreNotRangesAndTakeBareAddressesAsRangesOfOne()
    {
        var ranges = HookRanges.Parse(["not a range", "1.2.3.4/33", "", "203.0.113.9", "2001:db8::1", "192.30.252.1/22"], out var unreadable);

        unreadable.ShouldBe(["not a range", "1.2.3.4/33", ""]);
        ranges.Count.ShouldBe(3);
        ranges.Contains(IPAddress.Parse("192.30.252.7")).ShouldBeTrue();
        ranges.Contains(IPAddress.Parse("203.0.113.9")).ShouldBeTrue();
        ranges.Contains(IPAddress.Parse("203.0.113.10")).ShouldBeFalse();
        ranges.Contains(IPAddress.Parse("2001:db8::1")).ShouldBeTrue();
    }

    [Fact]
    public void NoTrustedProxies_NoForwardedHeaderIsRead()
    {
        var options = new ForwardedHeadersOptions();

        ForwardedHeadersSetup.Apply(options, []);

        // The framework's defaults trust loopback; Heaven trusts nobody it was not told to.
        options.ForwardedHeaders.ShouldBe(ForwardedHeaders.None);
        options.KnownProxies.ShouldBeEmpty();
        options.KnownIPNetworks.ShouldBeEmpty();
    }

    [Fact]
    public void TrustedProxies_AreAddressesAndNetworks()
    {
        var options = new ForwardedHeadersOptions();

        ForwardedHeadersSetup.Apply(options, ["10.1.2.3", "172.16.0.0/12", "fd00::/8"]);

        options.ForwardedHeaders.ShouldBe(ForwardedHeaders.XForwardedFor);
        options.KnownProxies.ShouldBe([IPAddress.Parse("10.1.2.3")]);
        options.KnownIPNetworks.Select(n => n.ToString()).ShouldBe(["172.16.0.0/12", "fd00::/8"]);
    }

    private async Task<HeavenTestHost> StartHeavenAsync(bool verify = true, Dictionary<string, string?>? settings = null, FakeTimeProvider? clock = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["GitHub:ApiUrl"] = github.ApiUrl,
            ["Webhooks:VerifySourceAddress"] = verify ? "true" : "false",
        };
        foreach (var (key, value) in settings ?? [])
        {
            all[key] = value;
        }

        var host = await HeavenTestHost.StartAsync(all, overrideServices: clock is null ? null : services => services.AddSingleton<TimeProvider>(clock));
        hosts.Add(host);
        return host;
    }

    /// <summary>The original Heaven's deployment fixture, with a fresh deployment id so no delivery is a duplicate.</summary>
    private Task<HttpResponseMessage> SendDeploymentAsync(HeavenTestHost host, string? forwardedFor = null)
    {
        var payload = JsonNode.Parse(Fixtures.Read("deployment.json"))!;
        payload["deployment"]!["id"] = Interlocked.Increment(ref nextDeploymentId);
        var request = Webhook.Request("deployment", payload.ToJsonString(), Guid.NewGuid().ToString(), HeavenTestHost.Secret);
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }

        return host.Client.SendAsync(request);
    }

    private static async Task ShouldBeRejectedAsync(HeavenTestHost host, HttpResponseMessage response, HttpStatusCode status, string messagePart)
    {
        response.StatusCode.ShouldBe(status);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        body.RootElement.GetProperty("result").GetString().ShouldBe("rejected");
        body.RootElement.GetProperty("message").GetString()!.ShouldContain(messagePart);
        await host.ShouldHaveStoredNothingAsync();
    }
}
