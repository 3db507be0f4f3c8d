using Heaven.Configuration;
using Heaven.GitHub;
using Heaven.Statuses;
using Heaven.Storage;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.WorkItems;

/// <summary>
/// A node killed while it held outbox leases: started again, it sends those items at once instead
/// of waiting for the leases to run out, and leaves other nodes' leases alone.
/// </summary>
public sealed class LeftoverLeaseTests
{
    [Fact]
    public async Task LeasesAKilledRunLeft_AreHandedBackAtStart_OtherNodesLeasesAreNot()
    {
        await using var gitHub = await FakeGitHub.StartAsync();
        using var directory = new TemporaryDirectory();
        var settings = new Dictionary<string, string?>
        {
            ["GitHub:Token"] = "lease-test-token",
            ["GitHub:ApiUrl"] = gitHub.ApiUrl,
            ["GitHub:StatusDelivery:PollInterval"] = "00:00:00.050",
        };
        string node;
        await using (var first = await HeavenTestHost.StartAsync(settings, directory: directory))
        {
            node = first.Services.GetRequiredService<NodeIdentity>().Id;
        }

        // As a SIGKILL leaves them: leased for ten more minutes, one by this node's previous run and
        // one by another node that is alive and still sending.
        var options = new DbContextOptionsBuilder<SqliteHeavenDbContext>()
            .UseSqlite($"Data Source={Path.Combine(directory.Path, "data", "heaven.db")};Pooling=False")
            .Options;
        await using (var db = new SqliteHeavenDbContext(options))
        {
            db.WorkItems.Add(LeasedStatus(101, $"{node}/previous-run"));
            db.WorkItems.Add(LeasedStatus(102, "other-node/its-run"));
            await db.SaveChangesAsync();
        }

        await using var second = await HeavenTestHost.StartAsync(settings, directory: directory);

        var sent = await gitHub.WaitForStatusAsync(s => s.DeploymentId == 101);
        sent.Description.ShouldBe("Deployed");
        // The other node's item, handed back at start by mistake, would be due at once and sent in the
        // sender's first rounds: once it is idle after sending 101, those rounds are over.
        await second.WaitForWorkItemsAsync(WorkItemKinds.PostDeploymentStatus, items => items[0].State == WorkItemState.Done, "the item of 101 to be done");
        await second.IdleAsync(OutboxConsumer.StatusSender);
        gitHub.StatusesFor("octo/app", 102).ShouldBeEmpty();
        var items = await second.QueryAsync(db => db.WorkItems.OrderBy(w => w.Id).ToListAsync());
        (items[0].State, items[0].LeaseOwner, items[0].Attempts).ShouldBe((WorkItemState.Done, null, 2));
        (items[1].State, items[1].LeaseOwner).ShouldBe((WorkItemState.Pending, "other-node/its-run"));
    }

    private static WorkItem LeasedStatus(long gitHubDeploymentId, string owner) => new()
    {
        Kind = WorkItemKinds.PostDeploymentStatus,
        Repository = "octo/app",
        DeploymentId = gitHubDeploymentId,
        PayloadJson = new DeploymentStatusPayload("octo/app", gitHubDeploymentId, GitHubDeploymentState.Success, "Deployed", null, null, "production").ToJson(),
        Attempts = 1,
        LeaseOwner = owner,
        CreatedAt = DateTime.UtcNow,
        NotBefore = DateTime.UtcNow.AddMinutes(10),
    };
}
