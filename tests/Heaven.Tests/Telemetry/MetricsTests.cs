using System.Net;
using System.Net.Http.Headers;
using Heaven.Access;
using Heaven.Storage;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Telemetry;

/// <summary><c>/metrics</c> as Prometheus scrapes it: the values after real deploys, and who may read it.</summary>
public sealed class MetricsTests
{
    [Fact]
    public async Task AfterADeploy_MetricsCountIt_ByStateAndProvider_WithItsDurationWaitAndDeliveries()
    {
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Output:MirrorToGist"] = "false" });
        using var repository = new TestRepository();
        var sha = repository.CommitDeployScript("echo deployed");
        // GitHub's rate limit runs out on the first status: Heaven waits for the reset and says what it saw.
        harness.GitHub.RateLimitExhaustedNext("statuses", DateTimeOffset.UtcNow.AddSeconds(1));

        var unsigned = await harness.Host.SendWebhookAsync("deployment", DeploymentWebhook.For(repository, sha).Body, secret: null);
        unsigned.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        var (gitHubId, _) = await harness.DeployAsync(repository, sha);
        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");

        var samples = await Poll.ForAsync(
            () => ScrapeAsync(harness.Host.Client),
            s => s.Value("heaven_deployments_finished_total", ("state", "success"), ("provider", "shell")) is not null,
            "the finished deployment in /metrics");

        samples.Value("heaven_deployments_finished_total", ("state", "success"), ("provider", "shell")).ShouldBe(1);
        samples.Where(s => s.Name == "heaven_deployments_finished_total").Sum(s => s.Value).ShouldBe(1);
        samples.Value("heaven_deployment_duration_seconds_count", ("provider", "shell")).ShouldBe(1);
        samples.Value("heaven_deployment_duration_seconds_sum", ("provider", "shell")).ShouldNotBeNull().ShouldBeGreaterThan(0);
        samples.Value("heaven_deployment_queue_wait_seconds_count").ShouldBe(1);
        samples.Value("heaven_deployments_running").ShouldBe(0);
        samples.Value("heaven_webhook_deliveries_total", ("event", "deployment"), ("result", "accepted")).ShouldBe(1);
        samples.Value("heaven_webhook_deliveries_total", ("event", "deployment"), ("result", "rejected")).ShouldBe(1);
        samples.Value("heaven_github_rate_limit_remaining").ShouldBe(0);
        // ASP.NET Core's own: the two webhook requests at least.
        samples.Where(s => s.Name == "http_server_request_duration_seconds_count" && s.Labels.GetValueOrDefault("http_route") == "/events").Sum(s => s.Value).ShouldBeGreaterThanOrEqualTo(2);
    }

    [Fact]
    public async Task TheRuntimesOwnMetrics_ShowWhatTheNodesMemoryAndCpuGoTo()
    {
        await using var harness = await DeployHarness.StartAsync();

        var samples = await ScrapeAsync(harness.Host.Client);

        // Code compiled so far (a fresh node compiles its hot paths as it warms up), collections, CPU time.
        samples.Where(s => s.Name == "dotnet_jit_compiled_methods_total").Sum(s => s.Value).ShouldBeGreaterThan(1000);
        samples.Where(s => s.Name == "dotnet_gc_collections_total").ShouldNotBeEmpty();
        samples.Where(s => s.Name == "dotnet_process_cpu_time_seconds_total").Sum(s => s.Value).ShouldBeGreaterThan(0);
        samples.Where(s => s.Name == "dotnet_thread_pool_thread_count").ShouldNotBeEmpty();
    }

    [Fact]
    public async Task ADeploymentThatNeverReachesItsProvider_IsCountedFinished_ButNotAsAQueueWait()
    {
        // The queue wait is the 202 until the provider starts: a checkout that fails ends it nowhere.
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Output:MirrorToGist"] = "false" });
        using var repository = new TestRepository();
        repository.CommitDeployScript("echo deployed");
        var missing = new string('d', 40);

        var (gitHubId, _) = await harness.DeployAsync(repository, missing);
        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("error");

        var samples = await Poll.ForAsync(
            () => ScrapeAsync(harness.Host.Client),
            s => s.Value("heaven_deployments_finished_total", ("state", "error"), ("provider", "shell")) is not null,
            "the errored deployment in /metrics");
        samples.Value("heaven_deployments_finished_total", ("state", "error"), ("provider", "shell")).ShouldBe(1);
        (samples.Value("heaven_deployment_queue_wait_seconds_count") ?? 0).ShouldBe(0);
    }

    [Fact]
    public async Task TheOutboxGauges_ShowPendingItemsPerKind_AndHowLongTheOldestWaited()
    {
        await using var host = await HeavenTestHost.StartAsync();
        var database = host.Services.GetRequiredService<IHeavenDatabase>();
        await using (var db = await database.OpenAsync(CancellationToken.None))
        {
            // A kind no consumer takes: it stays pending for the test to read.
            var created = DateTime.UtcNow.AddHours(-2);
            db.WorkItems.Add(new WorkItem { Kind = "metrics_test", PayloadJson = "{}", CreatedAt = created, NotBefore = created });
            db.WorkItems.Add(new WorkItem { Kind = "metrics_test", PayloadJson = "{}", CreatedAt = created.AddHours(1), NotBefore = created });
            await db.SaveChangesAsync();
        }

        var samples = await ScrapeAsync(host.Client);

        samples.Value("heaven_outbox_pending", ("kind", "metrics_test")).ShouldBe(2);
        samples.Value("heaven_outbox_oldest_age_seconds", ("kind", "metrics_test")).ShouldNotBeNull().ShouldBeInRange(2 * 3600, 2 * 3600 + 600);
    }

    [Fact]
    public async Task Metrics_AreForLoopbackAllowedAddressesAndReadTokens_AndNotFoundForOthers()
    {
        await using var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            // The test's requests come from 127.0.0.1, a proxy Heaven trusts: X-Forwarded-For is then the caller.
            ["Webhooks:TrustedProxies:0"] = "127.0.0.1",
            ["Metrics:AllowFrom:0"] = "198.51.100.0/24",
            ["Metrics:AllowFrom:1"] = "192.0.2.7",
        });
        var token = await host.Services.GetRequiredService<ApiTokens>().CreateAsync("scraper", TokenScope.Read, lifetime: null, createdBy: "tests", CancellationToken.None);

        (await GetAsync(host.Client, from: null)).ShouldBe(HttpStatusCode.OK, "loopback");
        (await GetAsync(host.Client, from: "198.51.100.23")).ShouldBe(HttpStatusCode.OK, "an address in an allowed network");
        (await GetAsync(host.Client, from: "192.0.2.7")).ShouldBe(HttpStatusCode.OK, "an allowed address");
        (await GetAsync(host.Client, from: "203.0.113.9")).ShouldBe(HttpStatusCode.NotFound, "anyone else");
        (await GetAsync(host.Client, from: "192.0.2.8")).ShouldBe(HttpStatusCode.NotFound, "the allowed address's neighbour");
        (await GetAsync(host.Client, from: "203.0.113.9", bearer: "heaven_not-a-real-token")).ShouldBe(HttpStatusCode.NotFound, "anyone else, with a token that is not one");
        (await GetAsync(host.Client, from: "203.0.113.9", bearer: token.Text)).ShouldBe(HttpStatusCode.OK, "a read token from anywhere");
    }

    private static async Task<HttpStatusCode> GetAsync(HttpClient client, string? from, string? bearer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        if (from is not null)
        {
            request.Headers.Add("X-Forwarded-For", from);
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    internal static async Task<IReadOnlyList<PrometheusSample>> ScrapeAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/metrics");
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        return PrometheusText.Parse(await response.Content.ReadAsStringAsync());
    }
}
