using Heaven.Configuration;
using Heaven.Deployments;
using Heaven.Model;
using Heaven.Tests.Infrastructure;
using Heaven.Tests.Telemetry;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Deployments;

/// <summary>A deployment runs at most once: a lost worker is reported, never silently re-run.</summary>
public sealed class DeploymentRecoveryTests
{
    [Fact]
    public async Task AWorkerThatStopsRenewingItsLease_IsReportedLost_AndTheDeploymentIsNotRerun()
    {
        using var repository = new TestRepository();
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Deployments:LeaseSeconds"] = "5" });
        var heavenId = await InsertRunningAsync(harness, repository, owner: "node-that-died", leaseExpiresIn: TimeSpan.FromSeconds(2));

        var final = await harness.GitHub.WaitForStatusAsync(s => s.DeploymentId == 4242);

        (final.State, final.Description).ShouldBe(("error", "Heaven lost the worker running this deployment"));
        harness.Story(repository, 4242).ShouldBe(["error: Heaven lost the worker running this deployment"]);
        var deployment = await harness.DeploymentAsync(heavenId);
        deployment.State.ShouldBe(DeploymentState.Errored);
        deployment.LeaseGeneration.ShouldBe(2);
        // Operators can alert on lost workers apart from failed deploys.
        var samples = await MetricsTests.ScrapeAsync(harness.Host.Client);
        samples.Value("heaven_deployments_finished_total", ("state", "lost"), ("provider", "none")).ShouldBe(1);
        samples.Where(s => s.Name == "heaven_deployments_finished_total").Sum(s => s.Value).ShouldBe(1);
    }

    [Fact]
    public async Task AStaleWorkerCannotOverwriteWhatTheReaperDecided()
    {
        using var repository = new TestRepository();
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Deployments:LeaseSeconds"] = "5" });
        var heavenId = await InsertRunningAsync(harness, repository, owner: "slow-node", leaseExpiresIn: TimeSpan.FromSeconds(-1));
        await harness.GitHub.WaitForStatusAsync(s => s.DeploymentId == 4242);
        var queue = harness.Host.Services.GetRequiredService<DeploymentQueue>();
        var stale = new ClaimedDeployment(await harness.DeploymentAsync(heavenId), Generation: 1);

        var renewed = await queue.RenewAsync(stale, CancellationToken.None);
        var finished = await queue.FinishAsync(stale, DeploymentState.Succeeded, new(Heaven.GitHub.GitHubDeploymentState.Success, "Deployed", null, null, "production"), CancellationToken.None);

        (renewed, finished).ShouldBe((false, false));
        (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Errored);
        // The stale worker's success went nowhere: the outbox holds the reaper's status alone, and once the
        // sender is idle with it done, GitHub has all there will be.
        (await harness.Host.WaitForWorkItemsAsync(WorkItemKinds.PostDeploymentStatus, items => items.Count > 0 && items.All(i => i.State == WorkItemState.Done), "the reaper's status to be sent"))
            .ShouldHaveSingleItem();
        await harness.Host.IdleAsync(OutboxConsumer.StatusSender);
        harness.Story(repository, 4242).ShouldBe(["error: Heaven lost the worker running this deployment"]);
    }

    [Fact]
    public async Task AfterARestart_WhatThePreviousRunLeftRunning_IsReportedAtOnce()
    {
        using var repository = new TestRepository();
        using var directory = new TemporaryDirectory();
        await using var gitHub = await FakeGitHub.StartAsync();
        string node;
        await using (var before = await DeployHarness.StartAsync(directory: directory, gitHub: gitHub))
        {
            node = before.Host.Services.GetRequiredService<NodeIdentity>().Id;
        }

        // Written while no Heaven runs, as a crash mid-deploy leaves it: Running, this node's lease,
        // still valid for an hour.
        var options = new DbContextOptionsBuilder<Heaven.Storage.SqliteHeavenDbContext>()
            .UseSqlite($"Data Source={Path.Combine(directory.Path, "data", "heaven.db")};Pooling=False")
            .Options;
        long heavenId;
        await using (var db = new Heaven.Storage.SqliteHeavenDbContext(options))
        {
            heavenId = await AddRunningAsync(db, repository, owner: node, leaseExpiresIn: TimeSpan.FromHours(1));
        }

        gitHub.Statuses.ShouldBeEmpty();
        await using var after = await DeployHarness.StartAsync(directory: directory, gitHub: gitHub);

        var final = await gitHub.WaitForStatusAsync(s => s.DeploymentId == 4242);
        (final.State, final.Description).ShouldBe(("error", "Heaven lost the worker running this deployment"));
        (await after.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Errored);
    }

    [Fact]
    public async Task ADeploymentWhoseWorkerSpokeUpMidReap_StaysItsWorkers_AndTheNextLostOneIsStillReportedOnce()
    {
        using var repository = new TestRepository();
        // A lease of an hour: the reaper's own rounds (every 20 minutes) stay out of the way of the one this test makes.
        await using var harness = await DeployHarness.StartAsync(
            new Dictionary<string, string?> { ["Deployments:LeaseSeconds"] = "3600" },
            overrideServices: services =>
            {
                services.AddSingleton<Heaven.Statuses.DeploymentStatusPoster>();
                services.AddSingleton<Heaven.Statuses.IDeploymentStatusPoster>(s => new RenewsTheFirstOneMidReap(s.GetRequiredService<Heaven.Statuses.DeploymentStatusPoster>(), s.GetRequiredService<Heaven.Storage.IHeavenDatabase>()));
            });
        var spokeUp = await InsertRunningAsync(harness, repository, owner: "slow-node", leaseExpiresIn: TimeSpan.FromSeconds(-1), gitHubId: 4242, environment: "production");
        var lost = await InsertRunningAsync(harness, repository, owner: "slow-node", leaseExpiresIn: TimeSpan.FromSeconds(-1), gitHubId: 4343, environment: "staging");
        var queue = harness.Host.Services.GetRequiredService<DeploymentQueue>();

        var reaped = await queue.ReapAsync(includeOwnLeases: false, CancellationToken.None);

        reaped.ShouldBe(1);
        (await harness.DeploymentAsync(spokeUp)).State.ShouldBe(DeploymentState.Running);
        (await harness.DeploymentAsync(lost)).State.ShouldBe(DeploymentState.Errored);
        await harness.GitHub.WaitForStatusAsync(s => s.DeploymentId == 4343);
        await harness.Host.IdleAsync(OutboxConsumer.StatusSender);
        // The renewed one got no "lost" status riding along with the other's save; the lost one got one.
        harness.Story(repository, 4242).ShouldBeEmpty();
        harness.Story(repository, 4343).ShouldBe(["error: Heaven lost the worker running this deployment"]);
    }

    /// <summary>The worker of the first deployment the reaper reports renews its lease just before the reaper saves.</summary>
    private sealed class RenewsTheFirstOneMidReap(Heaven.Statuses.IDeploymentStatusPoster inner, Heaven.Storage.IHeavenDatabase database) : Heaven.Statuses.IDeploymentStatusPoster
    {
        private int calls;

        public async Task<Heaven.GitHub.DeploymentStatusRequest> EnqueueAsync(Heaven.Storage.HeavenDbContext db, long heavenDeploymentId, string repository, long gitHubDeploymentId, Heaven.GitHub.DeploymentStatusRequest status, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                await using var worker = await database.OpenAsync(cancellationToken);
                await worker.Deployments.Where(d => d.Id == heavenDeploymentId)
                    .ExecuteUpdateAsync(set => set.SetProperty(d => d.LeaseGeneration, d => d.LeaseGeneration + 1).SetProperty(d => d.LeaseExpiresAt, DateTime.UtcNow.AddHours(1)), cancellationToken);
            }

            return await inner.EnqueueAsync(db, heavenDeploymentId, repository, gitHubDeploymentId, status, cancellationToken);
        }

        public void Wake() => inner.Wake();

        public Task PostAsync(long heavenDeploymentId, string repository, long gitHubDeploymentId, Heaven.GitHub.DeploymentStatusRequest status, CancellationToken cancellationToken) =>
            inner.PostAsync(heavenDeploymentId, repository, gitHubDeploymentId, status, cancellationToken);
    }

    private static Task<long> InsertRunningAsync(DeployHarness harness, TestRepository repository, string owner, TimeSpan leaseExpiresIn, long gitHubId = 4242, string environment = "production") =>
        harness.Host.QueryAsync(db => AddRunningAsync(db, repository, owner, leaseExpiresIn, gitHubId, environment));

    private static async Task<long> AddRunningAsync(Heaven.Storage.HeavenDbContext db, TestRepository repository, string owner, TimeSpan leaseExpiresIn, long gitHubId = 4242, string environment = "production")
    {
        var now = DateTime.UtcNow;
        var deployment = new DeploymentRecord
        {
            GitHubDeploymentId = gitHubId,
            Repository = repository.FullName,
            CloneUrl = repository.CloneUrl,
            Ref = "master",
            Sha = new string('a', 40),
            Task = "deploy",
            Environment = environment,
            PayloadJson = """{"config":{"provider":"shell","deploy_script":"script/deploy"}}""",
            DeliveryId = Guid.NewGuid().ToString(),
            ReceivedAt = now,
            StateChangedAt = now,
            StartedAt = now,
            App = "app",
            ExclusivityKey = Heaven.Model.ExclusivityKey.KeyOf(repository.FullName, "app", environment),
            State = DeploymentState.Running,
            LeaseOwner = owner,
            LeaseGeneration = 1,
            LeaseExpiresAt = now + leaseExpiresIn,
        };
        db.Deployments.Add(deployment);
        await db.SaveChangesAsync();
        return deployment.Id;
    }
}
