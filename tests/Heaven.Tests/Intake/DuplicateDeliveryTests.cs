using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Intake;
using Heaven.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Tests.Intake;

/// <summary>GitHub redelivers, people click "Redeliver", hooks overlap: nothing runs twice.</summary>
public sealed class DuplicateDeliveryTests : IAsyncLifetime
{
    private HeavenTestHost host = null!;

    public async Task InitializeAsync() => host = await HeavenTestHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task RedeliveryOfTheSameDelivery_Answers200DuplicateAndCreatesNothing()
    {
        var first = await host.SendWebhookAsync("deployment", Fixtures.Read("deployment.json"), deliveryId: "d-1");
        var again = await host.SendWebhookAsync("deployment", Fixtures.Read("deployment.json"), deliveryId: "d-1");

        first.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        again.StatusCode.ShouldBe(HttpStatusCode.OK);
        var answer = JsonDocument.Parse(await again.Content.ReadAsStringAsync()).RootElement;
        answer.GetProperty("result").GetString().ShouldBe("duplicate");
        answer.GetProperty("message").GetString().ShouldBe("Delivery d-1 was already received; nothing was done again.");
        (await host.CountsAsync()).ShouldBe((1, 1, 0, 0));
    }

    [Fact]
    public async Task SecondDeliveryOfTheSameDeployment_Answers200DuplicateAndCreatesNoDeployment()
    {
        var first = await host.SendWebhookAsync("deployment", Fixtures.Read("deployment.json"), deliveryId: "d-1");
        var second = await host.SendWebhookAsync("deployment", Fixtures.Read("deployment.json"), deliveryId: "d-2");

        first.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        second.StatusCode.ShouldBe(HttpStatusCode.OK);
        var answer = JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement;
        answer.GetProperty("result").GetString().ShouldBe("duplicate");
        answer.GetProperty("message").GetString()!.ShouldStartWith("GitHub deployment 1875476 of atmos/my-robot was already received as Heaven deployment");
        var counts = await host.CountsAsync();
        (counts.Deliveries, counts.Deployments).ShouldBe((2, 1));
        var log = await host.QueryAsync(db => db.Deliveries.OrderBy(d => d.Id).Select(d => d.Result).ToListAsync());
        log.ShouldBe([DeliveryResult.Accepted, DeliveryResult.Duplicate]);
    }

    [Fact]
    public async Task RedeliveredStatusEvent_IsRecordedOnce()
    {
        await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-success.json"), deliveryId: "s-1");
        var again = await host.SendWebhookAsync("deployment_status", Fixtures.Read("deployment-success.json"), deliveryId: "s-1");

        again.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await host.CountsAsync()).WorkItems.ShouldBe(1);
    }

    [Fact]
    public async Task ABurstOfTheSameDeploymentAtOnce_CreatesExactlyOne()
    {
        var body = Fixtures.Read("deployment.json");

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => host.SendWebhookAsync("deployment", body, deliveryId: $"burst-{i}")));

        responses.Count(r => r.StatusCode == HttpStatusCode.Accepted).ShouldBe(1);
        responses.Count(r => r.StatusCode == HttpStatusCode.OK).ShouldBe(19);
        var counts = await host.CountsAsync();
        (counts.Deliveries, counts.Deployments).ShouldBe((20, 1));
    }

    [Fact]
    public async Task ABurstOfDistinctDeployments_CreatesOneEach()
    {
        var bodies = Enumerable.Range(1, 40).Select(i =>
        {
            var node = JsonNode.Parse(Fixtures.Read("deployment.json"))!;
            node["deployment"]!["id"] = 5000 + i;
            return node.ToJsonString();
        });

        var responses = await Task.WhenAll(bodies.Select(b => host.SendWebhookAsync("deployment", b)));

        responses.ShouldAllBe(r => r.StatusCode == HttpStatusCode.Accepted);
        var ids = await host.QueryAsync(db => db.Deployments.Select(d => d.GitHubDeploymentId).OrderBy(x => x).ToListAsync());
        ids.ShouldBe(Enumerable.Range(5001, 40).Select(i => (long)i).ToList());
    }
}
