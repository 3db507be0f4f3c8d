using System.Net;
using System.Text.Json;
using Heaven.Access;
using Heaven.Configuration;
using Heaven.Deployments;
using Heaven.Model;
using Heaven.Tests.Cli;
using Heaven.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Deployments;

/// <summary>
/// Node membership: a running node lists itself and renews its heartbeat on its clock, shows drained and
/// stopped, a node without a heartbeat past its lease is gone (and its running deployment is reported
/// lost by the reaper, as before), long-gone nodes are forgotten; <c>heaven nodes</c> and the API list the same.
/// </summary>
public sealed class NodeMembershipTests
{
    private const int LeaseSeconds = 30;
    private static readonly TimeSpan Beat = TimeSpan.FromSeconds(LeaseSeconds / 3);

    private static Task<HeavenTestHost> StartAsync(TestClock clock, TemporaryDirectory? directory = null) =>
        HeavenTestHost.StartAsync(
            new Dictionary<string, string?> { ["Deployments:LeaseSeconds"] = LeaseSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            directory: directory,
            overrideServices: s => s.AddSingleton<TimeProvider>(clock));

    private static Task<List<NodeView>> ListAsync(HeavenTestHost host) =>
        host.Services.GetRequiredService<NodeMembership>().ListAsync(CancellationToken.None);

    [Fact]
    public async Task A_running_node_lists_itself_renews_its_heartbeat_on_its_clock_and_shows_drained()
    {
        var clock = new TestClock(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        await using var host = await StartAsync(clock);
        var node = host.Services.GetRequiredService<NodeIdentity>();
        var started = clock.GetUtcNow();

        var self = (await ListAsync(host)).ShouldHaveSingleItem();
        (self.Id, self.RunId, self.HostName, self.State, self.ThisNode).ShouldBe((node.Id, node.RunId, Environment.MachineName, NodeState.Running, true));
        self.Version.ShouldBe(Heaven.Configuration.HeavenVersion.Current);
        (self.StartedAt, self.LastHeartbeatAt, self.LeaseSeconds, self.RunningDeployments).ShouldBe((started, started, LeaseSeconds, 0));

        // Renewed a beat later, by the clock alone; moving the clock by less than the lease each time,
        // the node never looks gone.
        var renewed = await Poll.ForAsync(
            async () =>
            {
                clock.Advance(Beat);
                return (await ListAsync(host)).Single();
            },
            n => n.LastHeartbeatAt > started,
            "the heartbeat to be renewed");
        renewed.State.ShouldBe(NodeState.Running);
        renewed.StartedAt.ShouldBe(started);
        (clock.GetUtcNow() - renewed.LastHeartbeatAt).ShouldBeLessThan(TimeSpan.FromSeconds(LeaseSeconds));

        // The drain is the one heaven drain keeps: not a second copy.
        await host.Services.GetRequiredService<NodeDrains>().DrainAsync(allNodes: false, "maintainer", CancellationToken.None);
        var drained = (await ListAsync(host)).Single();
        (drained.State, drained.Drain?.RequestedBy).ShouldBe((NodeState.Draining, "maintainer"));
        await host.Services.GetRequiredService<NodeDrains>().ResumeAsync(allNodes: false, CancellationToken.None);
        await host.Services.GetRequiredService<NodeDrains>().DrainAsync(allNodes: true, "everyone", CancellationToken.None);
        var all = (await ListAsync(host)).Single();
        (all.State, all.Drain?.RequestedBy, all.Drain?.IsForAllNodes).ShouldBe((NodeState.Draining, "everyone", true));

        // SIGTERM's graceful stop: stopping from the next beat on, while it still heart-beats.
        await host.Services.GetRequiredService<DeploymentDispatcher>().DrainForShutdownAsync(TimeSpan.Zero, CancellationToken.None);
        var stopping = await Poll.ForAsync(
            async () =>
            {
                clock.Advance(Beat);
                return (await ListAsync(host)).Single();
            },
            n => n.State == NodeState.Stopping,
            "the node to show it is stopping");
        stopping.StoppingAt.ShouldNotBeNull().ShouldBeGreaterThan(started);
        stopping.StoppedAt.ShouldBeNull();
    }

    [Fact]
    public async Task A_node_without_a_heartbeat_past_its_lease_is_gone_and_its_running_deployment_is_reaped_as_lost()
    {
        var clock = new TestClock(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        await using var host = await StartAsync(clock);
        var now = clock.GetUtcNow().UtcDateTime;
        const string other = "other-host-1234";
        const string forgotten = "old-host-5678";
        var deploymentId = await host.QueryAsync(async db =>
        {
            // Another node that beat last just inside its lease, and runs one deployment whose lease it renewed at the same moment.
            db.Nodes.Add(new NodeRecord { Id = other, RunId = "r1", HostName = "other-host", Version = "1.0.0", LeaseSeconds = LeaseSeconds, StartedAt = now.AddHours(-1), HeartbeatAt = now.AddSeconds(-20) });
            // And one stopped eight days ago.
            db.Nodes.Add(new NodeRecord { Id = forgotten, RunId = "r0", HostName = "old-host", Version = "0.9.0", LeaseSeconds = LeaseSeconds, StartedAt = now.AddDays(-9), HeartbeatAt = now.AddDays(-8), StoppedAt = now.AddDays(-8) });
            var deployment = Running(other, now.AddSeconds(-20 + LeaseSeconds));
            db.Deployments.Add(deployment);
            await db.SaveChangesAsync();
            return deployment.Id;
        });

        var before = await ListAsync(host);
        before.Single(n => n.Id == other).ShouldSatisfyAllConditions(
            n => n.State.ShouldBe(NodeState.Running),
            n => n.RunningDeployments.ShouldBe(1),
            n => n.ThisNode.ShouldBeFalse());

        // Past its lease: gone, and the reaper (on the same clock) reports its deployment lost, not re-run.
        var lost = await Poll.ForAsync(
            async () =>
            {
                clock.Advance(Beat);
                return await host.QueryAsync(db => db.Deployments.AsNoTracking().SingleAsync(d => d.Id == deploymentId));
            },
            d => d.State == DeploymentState.Errored,
            "the gone node's deployment to be reaped");
        lost.StatusDescription.ShouldBe(DeploymentQueue.WorkerLost);

        var after = await ListAsync(host);
        after.Single(n => n.Id == other).ShouldSatisfyAllConditions(
            n => n.State.ShouldBe(NodeState.Gone),
            n => n.RunningDeployments.ShouldBe(0));
        after.Select(n => n.Id).ShouldNotContain(forgotten, "a node stopped for longer than 7 days is forgotten");
        after.First().ThisNode.ShouldBeTrue("live nodes are listed first");
    }

    [Fact]
    public async Task A_node_that_stops_cleanly_is_stopped_and_heaven_nodes_and_the_api_say_so()
    {
        var clock = new TestClock(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        using var directory = new TemporaryDirectory();
        var host = await StartAsync(clock, directory);
        string nodeId;
        try
        {
            nodeId = host.Services.GetRequiredService<NodeIdentity>().Id;
            var api = ApiClient.For(host, TokenScope.Read);
            var answer = await api.GetAsync("/nodes");
            var text = await answer.Content.ReadAsStringAsync();
            answer.StatusCode.ShouldBe(HttpStatusCode.OK, text);
            var listed = JsonDocument.Parse(text).RootElement.EnumerateArray().ShouldHaveSingleItem();
            listed.GetProperty("id").GetString().ShouldBe(nodeId);
            listed.GetProperty("state").GetString().ShouldBe("running");
            listed.GetProperty("hostName").GetString().ShouldBe(Environment.MachineName);
            listed.GetProperty("runningDeployments").GetInt32().ShouldBe(0);
            listed.GetProperty("draining").GetBoolean().ShouldBeFalse();
            listed.GetProperty("lastHeartbeatAt").GetDateTimeOffset().ShouldBe(clock.GetUtcNow());

            var anonymous = await ApiClient.Anonymous(host).GetAsync("/nodes");
            anonymous.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }
        finally
        {
            await host.DisposeAsync();
        }

        var (exit, output, error) = await HeavenCliTests.RunAsync("nodes", "--DataDirectory", Path.Combine(directory.Path, "data"));
        exit.ShouldBe(0, error);
        var lines = output.TrimEnd('\n').Split('\n');
        lines[0].ShouldStartWith("NODE");
        lines[0].ShouldContain("LAST HEARTBEAT");
        var row = lines.Where(l => l.StartsWith("* ", StringComparison.Ordinal)).ShouldHaveSingleItem("the node of the data directory is marked");
        row.ShouldStartWith("* " + nodeId);
        row.ShouldContain(" stopped ");
        row.ShouldContain("2026-03-01 12:00:00");
    }

    private static DeploymentRecord Running(string owner, DateTime leaseExpiresAt) => new()
    {
        GitHubDeploymentId = 4343,
        Repository = "octo/app",
        CloneUrl = "https://github.com/octo/app.git",
        Ref = "main",
        Sha = new string('b', 40),
        Task = "deploy",
        Environment = "production",
        PayloadJson = """{"config":{"provider":"shell"}}""",
        DeliveryId = Guid.NewGuid().ToString(),
        ReceivedAt = leaseExpiresAt.AddMinutes(-1),
        StateChangedAt = leaseExpiresAt.AddMinutes(-1),
        StartedAt = leaseExpiresAt.AddMinutes(-1),
        App = "app",
        ExclusivityKey = ExclusivityKey.KeyOf("octo/app", "app", "production"),
        State = DeploymentState.Running,
        LeaseOwner = owner,
        LeaseGeneration = 1,
        LeaseExpiresAt = leaseExpiresAt,
    };
}
