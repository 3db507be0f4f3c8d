using System.Text;
using Heaven.Intake;
using Heaven.Storage;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Heaven.Tests.Intake;

/// <summary>
/// The recorder's group commit, made deterministic: deliveries queued before its writer starts are
/// written in one transaction. The database is a started host's (migrated SQLite).
/// </summary>
public sealed class DeliveryRecorderTests : IAsyncLifetime
{
    private readonly CountingSignal signal = new();
    private HeavenTestHost host = null!;

    public async Task InitializeAsync() => host = await HeavenTestHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task SameDeliveryTwiceInOneBatch_TheDuplicateNamesTheNewDeployment()
    {
        var delivery = Incoming("0f1e2d3c-0000-4000-8000-000000000001");

        var (first, second) = await RecordInOneBatchAsync(delivery, delivery);

        first.Result.ShouldBe(DeliveryResult.Accepted);
        first.DeploymentId.ShouldNotBeNull();
        signal.Notifications.ShouldBe(1);
        second.Result.ShouldBe(DeliveryResult.Duplicate);
        second.DeploymentId.ShouldBe(first.DeploymentId);
        (await host.CountsAsync()).ShouldBe((1, 1, 0, 0));
    }

    [Fact]
    public async Task SameDeploymentByTwoDeliveriesInOneBatch_TheDuplicateNamesTheNewDeployment()
    {
        var (first, second) = await RecordInOneBatchAsync(
            Incoming("0f1e2d3c-0000-4000-8000-000000000002"),
            Incoming("0f1e2d3c-0000-4000-8000-000000000003"));

        first.Result.ShouldBe(DeliveryResult.Accepted);
        first.DeploymentId.ShouldNotBeNull();
        signal.Notifications.ShouldBe(1);
        second.Result.ShouldBe(DeliveryResult.Duplicate);
        second.DeploymentId.ShouldBe(first.DeploymentId);
        (await host.CountsAsync()).ShouldBe((2, 1, 0, 0));
    }

    private async Task<(RecordedDelivery First, RecordedDelivery Second)> RecordInOneBatchAsync(IncomingDelivery first, IncomingDelivery second)
    {
        using var recorder = new DeliveryRecorder(host.Services.GetRequiredService<IHeavenDatabase>(), signal, new WorkItemSignal(TimeProvider.System), host.Services.GetRequiredService<Heaven.Deployments.DeploymentAdmission>(), NullLogger<DeliveryRecorder>.Instance);
        var recordingFirst = recorder.RecordAsync(first, CancellationToken.None);
        var recordingSecond = recorder.RecordAsync(second, CancellationToken.None);
        await recorder.StartAsync(CancellationToken.None);
        try
        {
            return (await recordingFirst, await recordingSecond);
        }
        finally
        {
            await recorder.StopAsync(CancellationToken.None);
        }
    }

    private static IncomingDelivery Incoming(string deliveryId) => new(
        deliveryId,
        WebhookEventReader.Read("deployment", Encoding.UTF8.GetBytes(Fixtures.Read("deployment.json"))),
        RepositoryAllowed: true,
        DateTime.UtcNow);

    /// <summary>Counts how often the dispatcher would have been woken.</summary>
    private sealed class CountingSignal : Heaven.Deployments.IDeploymentSignal
    {
        private int notifications;

        public int Notifications => notifications;

        public void Notify() => Interlocked.Increment(ref notifications);
    }
}
