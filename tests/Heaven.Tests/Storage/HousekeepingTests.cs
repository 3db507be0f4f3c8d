using Heaven.AutoDeploy;
using Heaven.Intake;
using Heaven.Model;
using Heaven.Output;
using Heaven.Retention;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Storage;

/// <summary>Old bookkeeping rows go after their retention; pending work, deployments and (by default) logs stay.</summary>
public sealed class HousekeepingTests
{
    private static readonly DateTime Now = DateTime.UtcNow;

    [Fact]
    public async Task RowsPastTheirRetention_AreDeleted_PendingWorkAndHistoryAreKept()
    {
        await using var host = await HeavenTestHost.StartAsync();
        await ShouldCleanUpAsync(host);
    }

    [PostgresFact]
    public async Task OnPostgres_RowsPastTheirRetention_AreDeleted_PendingWorkAndHistoryAreKept()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await using var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Database:Provider"] = "Postgres",
            ["Database:ConnectionString"] = database.ConnectionString,
        });
        await ShouldCleanUpAsync(host);
    }

    private static async Task ShouldCleanUpAsync(HeavenTestHost host)
    {
        await SeedAsync(host);

        var deleted = await host.Services.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);

        deleted.ShouldBe(3);
        (await host.QueryAsync(db => db.Deliveries.Select(d => d.DeliveryId).ToListAsync())).ShouldBe(["new-delivery"]);
        (await host.QueryAsync(db => db.WorkItems.OrderBy(w => w.Id).Select(w => w.Kind).ToListAsync())).ShouldBe(["old-but-pending", "new-done"]);
        (await host.QueryAsync(db => db.AutoDeployDecisions.Select(d => d.Reason).ToListAsync())).ShouldBe(["new"]);
        // Deployment history and its logs are kept unless a log retention is set.
        (await host.QueryAsync(db => db.Deployments.CountAsync())).ShouldBe(2);
        (await host.QueryAsync(db => db.LogChunks.CountAsync())).ShouldBe(2);
    }

    [Fact]
    public async Task ALogRetention_DeletesTheOutputOfOldDeploymentsOnly_AndEmptyKeepsForever()
    {
        await using var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Retention:DeploymentLogs"] = "7.00:00:00",
            ["Retention:Deliveries"] = "",
        });
        var (oldDeployment, newDeployment) = await SeedAsync(host);

        await host.Services.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);

        (await host.QueryAsync(db => db.LogChunks.Select(c => c.DeploymentId).ToListAsync())).ShouldBe([newDeployment]);
        (await host.QueryAsync(db => db.Deployments.Select(d => d.Id).OrderBy(id => id).ToListAsync())).ShouldBe([oldDeployment, newDeployment]);
        (await host.QueryAsync(db => db.Deliveries.CountAsync())).ShouldBe(2);
    }

    [Fact]
    public async Task ARetentionShorterThanAnHour_StopsTheStart()
    {
        var failure = await Should.ThrowAsync<Exception>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?> { ["Retention:WorkItems"] = "00:05:00" }));

        failure.ToString().ShouldContain("Retention:WorkItems must be at least an hour");
    }

    private static async Task<(long Old, long New)> SeedAsync(HeavenTestHost host)
    {
        var old = Now - TimeSpan.FromDays(100);
        var recent = Now - TimeSpan.FromDays(1);
        return await host.QueryAsync(async db =>
        {
            db.Deliveries.Add(new Delivery { DeliveryId = "old-delivery", Event = "ping", Message = "old", ReceivedAt = old });
            db.Deliveries.Add(new Delivery { DeliveryId = "new-delivery", Event = "ping", Message = "new", ReceivedAt = recent });
            db.WorkItems.Add(new WorkItem { Kind = "old-done", PayloadJson = "{}", State = WorkItemState.Done, CreatedAt = old, CompletedAt = old });
            db.WorkItems.Add(new WorkItem { Kind = "old-but-pending", PayloadJson = "{}", State = WorkItemState.Pending, CreatedAt = old, NotBefore = old });
            db.WorkItems.Add(new WorkItem { Kind = "new-done", PayloadJson = "{}", State = WorkItemState.Done, CreatedAt = recent, CompletedAt = recent });
            db.AutoDeployDecisions.Add(Decision("old", old));
            db.AutoDeployDecisions.Add(Decision("new", recent));
            var oldDeployment = Deployment(finishedAt: Now - TimeSpan.FromDays(10));
            var newDeployment = Deployment(finishedAt: recent);
            db.Deployments.AddRange(oldDeployment, newDeployment);
            await db.SaveChangesAsync();
            db.LogChunks.Add(new DeploymentLogChunk { DeploymentId = oldDeployment.Id, Sequence = 0, Content = "old output\n", LineCount = 1, CreatedAt = old });
            db.LogChunks.Add(new DeploymentLogChunk { DeploymentId = newDeployment.Id, Sequence = 0, Content = "new output\n", LineCount = 1, CreatedAt = recent });
            await db.SaveChangesAsync();
            return (oldDeployment.Id, newDeployment.Id);
        });
    }

    private static AutoDeployDecision Decision(string reason, DateTime at) => new()
    {
        Repository = "octo/app",
        Sha = reason.PadRight(40, '0'),
        Environment = "production",
        Outcome = AutoDeployOutcome.Skipped,
        Reason = reason,
        Trigger = "status ci success",
        DecidedAt = at,
        DeployKey = AutoDeployDecision.KeyOf("octo/app", "production", reason),
    };

    private static DeploymentRecord Deployment(DateTime finishedAt) => new()
    {
        GitHubDeploymentId = Random.Shared.NextInt64(1, long.MaxValue),
        Repository = "octo/app",
        CloneUrl = "https://github.com/octo/app.git",
        Ref = "main",
        Sha = new string('a', 40),
        Task = "deploy",
        Environment = "production",
        PayloadJson = "{}",
        DeliveryId = Guid.NewGuid().ToString(),
        App = "app",
        ExclusivityKey = Heaven.Model.ExclusivityKey.KeyOf("octo/app", "app", "production"),
        State = DeploymentState.Succeeded,
        ReceivedAt = finishedAt,
        StateChangedAt = finishedAt,
        FinishedAt = finishedAt,
    };
}
