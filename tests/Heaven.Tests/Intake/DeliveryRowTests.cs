using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Intake;
using Heaven.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Tests.Intake;

/// <summary>What the recorder writes for accepted and repeated deliveries: each delivery row names its deployment and says what was answered.</summary>
public sealed class DeliveryRowTests : IAsyncLifetime
{
    private HeavenTestHost host = null!;

    public async Task InitializeAsync() => host = await HeavenTestHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task AcceptedDeployment_DeliveryRowPointsAtTheNewDeployment()
    {
        var deliveryId = Guid.NewGuid().ToString();

        var response = await host.SendWebhookAsync("deployment", Fixtures.Read("deployment.json"), deliveryId);

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var answer = await AnswerAsync(response);
        var deployment = await host.QueryAsync(db => db.Deployments.SingleAsync());
        var delivery = await host.QueryAsync(db => db.Deliveries.SingleAsync());
        answer.Deployment.ShouldBe(deployment.Id);
        delivery.DeliveryId.ShouldBe(deliveryId);
        delivery.Result.ShouldBe(DeliveryResult.Accepted);
        delivery.DeploymentId.ShouldBe(deployment.Id);
        delivery.Message.ShouldBe($"GitHub deployment 1875476 of atmos/my-robot to production is queued as Heaven deployment {deployment.Id}.");
        answer.Message.ShouldBe(delivery.Message);
    }

    [Fact]
    public async Task Redelivery_IsADuplicateOfTheSameDeploymentAndStoredOnce()
    {
        var deliveryId = Guid.NewGuid().ToString();
        var first = await AnswerAsync(await host.SendWebhookAsync("deployment", Fixtures.Read("deployment.json"), deliveryId));

        var again = await host.SendWebhookAsync("deployment", Fixtures.Read("deployment.json"), deliveryId);

        again.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await AnswerAsync(again)).ShouldSatisfyAllConditions(
            a => a.Result.ShouldBe("duplicate"),
            a => a.Deployment.ShouldBe(first.Deployment));
        (await host.CountsAsync()).ShouldBe((1, 1, 0, 0));
    }

    [Fact]
    public async Task SameDeploymentInANewDelivery_IsRecordedAsADuplicatePointingAtIt()
    {
        var first = await AnswerAsync(await host.SendWebhookAsync("deployment", Fixtures.Read("deployment.json")));
        var secondId = Guid.NewGuid().ToString();

        var second = await host.SendWebhookAsync("deployment", Fixtures.Read("deployment.json"), secondId);

        second.StatusCode.ShouldBe(HttpStatusCode.OK);
        var row = await host.QueryAsync(db => db.Deliveries.SingleAsync(d => d.DeliveryId == secondId));
        row.Result.ShouldBe(DeliveryResult.Duplicate);
        row.DeploymentId.ShouldBe(first.Deployment);
        (await host.CountsAsync()).ShouldBe((2, 1, 0, 0));
    }

    [Fact]
    public async Task ConcurrentDeliveries_EachRowPointsAtItsOwnDeployment()
    {
        var template = JsonNode.Parse(Fixtures.Read("deployment.json"))!;
        var sends = Enumerable.Range(1, 40).Select(i =>
        {
            var payload = template.DeepClone();
            payload["deployment"]!["id"] = 5_000_000 + i;
            return host.SendWebhookAsync("deployment", payload.ToJsonString());
        });

        var responses = await Task.WhenAll(sends);

        responses.ShouldAllBe(r => r.StatusCode == HttpStatusCode.Accepted);
        var rows = await host.QueryAsync(async db => (
            Deployments: await db.Deployments.ToDictionaryAsync(d => d.Id),
            Deliveries: await db.Deliveries.ToListAsync()));
        rows.Deployments.Count.ShouldBe(40);
        rows.Deliveries.Count.ShouldBe(40);
        foreach (var delivery in rows.Deliveries)
        {
            var deployment = rows.Deployments[delivery.DeploymentId!.Value];
            deployment.DeliveryId.ShouldBe(delivery.DeliveryId);
            delivery.Message.ShouldEndWith($"queued as Heaven deployment {deployment.Id}.");
        }
    }

    private static async Task<WebhookAnswer> AnswerAsync(HttpResponseMessage response) =>
        JsonSerializer.Deserialize<WebhookAnswer>(await response.Content.ReadAsStringAsync(), new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
}
