using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Heaven.Tests.Infrastructure;
using Heaven.Tests.Notifications;
using Xunit.Abstractions;

namespace Heaven.Tests.Deployments;

/// <summary>
/// Three real <c>heaven</c> processes on one PostgreSQL server of the test's own: one killed with
/// SIGKILL and started again, one stopped with SIGTERM, and PostgreSQL itself stopped and started
/// underneath them. What a user sees must stay true: every deployment runs once, never two at once in
/// one environment, gets one final status on GitHub, and every status one chat message.
/// </summary>
[Collection(SeveralNodesCollection.Name)]
public sealed class SeveralNodesTests(ITestOutputHelper output)
{
    private const string Lost = "Heaven lost the worker running this deployment";
    private static readonly string[] Final = ["success", "failure", "error"];
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(5);
    private readonly Stopwatch clock = Stopwatch.StartNew();

    private void Phase(string what) => output.WriteLine($"{clock.Elapsed.TotalSeconds,6:F1} s  {what}");

    [PostgresServerFact]
    public async Task TwoHundredDeploymentsOnThreeNodes_EachRunOnce_NeverTwoAtOnceInAnEnvironment_ThroughAKillAndADrain()
    {
        await using var postgres = await PostgresServer.StartAsync();
        await using var gitHub = await FakeGitHub.StartAsync();
        await using var chat = await FakeChat.StartAsync();
        using var directory = new TemporaryDirectory();
        var record = new DeployRecord(directory.Path);
        var repositories = Enumerable.Range(0, 10).Select(r => new TestRepository($"octo/service-{r}")).ToList();
        try
        {
            var shas = repositories.Select(r => r.CommitDeployScript(record.Script)).ToList();
            await using var cluster = await HeavenCluster.StartAsync(3, postgres.ConnectionString, gitHub, chat, directory, new Dictionary<string, string>
            {
                // Every deployment runs: one environment's wait in line, never "Already deploying.".
                ["Deployments__Concurrency"] = "queue",
                ["Deployments__MaxQueueLength"] = "100",
                ["Deployments__MaxParallel"] = "3",
                // The smallest lease: the killed node's deployments are reported lost within seconds.
                ["Deployments__LeaseSeconds"] = "5",
                ["Deployments__DrainTimeout"] = "120",
            });
            var (survivor, drained, killed) = (0, 1, 2);
            var killedNode = cluster.NodeId(killed);
            var drainedNode = cluster.NodeId(drained);
            var sent = new List<long>();

            // Fifty environments: five of each of ten repositories, four deployments each, sent to the nodes in turn.
            async Task SendAsync(int from, int to)
            {
                for (var i = from; i < to; i++)
                {
                    sent.Add(await cluster.DeployAsync(i % 3, repositories[i % 10], shas[i % 10], $"stage-{i / 10 % 5}"));
                }
            }

            Phase("three nodes started");
            await SendAsync(0, 80);
            await Poll.UntilAsync(() => record.Lines().Count(l => l.Event == "end") >= 20, "20 deploys to finish", Long, () => record.ToString());

            // The kill: every node busy with deploys that hold, nothing half-sent anywhere.
            Phase("20 deploys done; holding");
            record.Hold();
            await Poll.UntilAsync(
                () => record.Holding().GroupBy(l => l.Node).Count(g => g.Count() == 3) == 3,
                "each node to run three deploys that hold",
                Long,
                () => record.ToString());
            await cluster.WaitUntilQuietAsync(Long);
            var lostIds = record.Holding().Where(l => l.Node == killedNode).Select(l => l.GitHubId).ToList();
            Phase("quiet: killing");
            await cluster.KillAsync(killed);
            record.Release();
            await SendAsync(80, 140);

            // The survivors report the killed node's deploys lost once its lease ran out.
            foreach (var id in lostIds)
            {
                await gitHub.WaitForStatusAsync(s => s.DeploymentId == id && s.State == "error", Long, $"deployment {id} to be reported lost");
            }

            Phase("lost ones reported; restarting");
            await cluster.StartNodeAsync(killed);
            var restarted = cluster[killed].Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            // The drain: the node finishes the deploys it runs, takes no more, and exits 0. Thirty deploys over thirty
            // environments that hold fill every node's three slots, so the restarted node surely takes work again.
            record.Hold();
            await SendAsync(140, 170);
            await Poll.UntilAsync(
                () => record.Holding().Count(l => l.Node == drainedNode) == 3 && record.Holding().Count(l => l.Pid == restarted) == 3,
                "the node to be drained and the restarted node to run three deploys each (their Deployments:MaxParallel)",
                Long,
                () => record.ToString());
            Phase("holding on the node to drain: SIGTERM");
            var drainedIds = record.Holding().Where(l => l.Node == drainedNode).Select(l => l.GitHubId).ToList();
            cluster[drained].Signal(HeavenProcess.Sigterm);
            await cluster[drained].WaitForOutputAsync("Stopping: this node takes no new deployments");
            await SendAsync(170, 185);
            record.Release();
            (await cluster[drained].WaitForExitAsync(Long)).ShouldBe(0);
            cluster[drained].Output.ShouldContain($"Stopping: the {drainedIds.Count} running deploys finished");
            Phase("drained node exited");
            await cluster.ForgetAsync(drained);
            await SendAsync(185, 200);

            foreach (var id in sent)
            {
                await gitHub.WaitForStatusAsync(s => s.DeploymentId == id && Final.Contains(s.State), Long, $"deployment {id} to end");
            }

            Phase("all 200 ended");
            await cluster.WaitUntilQuietAsync(Long);
            output.WriteLine($"200 deployments on three nodes, with a kill and a drain: {clock.Elapsed.TotalSeconds:F1} s");

            // Each deployment ran once, and once only (the lost ones too: their scripts were not started again).
            var lines = record.Lines();
            foreach (var id in sent)
            {
                lines.Count(l => l.GitHubId == id && l.Event == "start").ShouldBe(1, $"deployment {id} started once\n{record}");
            }

            lines.Where(l => l.Event == "start").Select(l => l.GitHubId).ShouldBeSubsetOf(sent);
            // The killed node's deploys ran on without it to their end, before anything else started there.
            NoOverlap(lines, record);
            lostIds.ShouldNotBeEmpty();
            drainedIds.ShouldNotBeEmpty();

            // One final status each: the killed node's "lost", every other a success.
            foreach (var id in sent)
            {
                var statuses = gitHub.Statuses.Where(s => s.DeploymentId == id).ToList();
                var final = statuses.Where(s => Final.Contains(s.State)).ToList();
                final.Count.ShouldBe(1, $"deployment {id}: {string.Join(", ", statuses.Select(s => s.State))}");
                if (lostIds.Contains(id))
                {
                    (final[0].State, final[0].Description).ShouldBe(("error", Lost));
                }
                else
                {
                    final[0].State.ShouldBe("success", final[0].Description);
                }

                statuses.Count(s => s.State == "in_progress").ShouldBe(1, $"deployment {id}");
            }

            // Every status GitHub holds gave one chat message, none twice.
            var messages = cluster.ChatMessages();
            messages.GroupBy(m => m).Where(g => g.Count() > 1).Select(g => g.Key).ShouldBeEmpty("chat messages sent twice");
            messages.ToHashSet().ShouldBe(gitHub.Statuses.Select(s => (HeavenCluster.Room(s.DeploymentId), s.State)).ToHashSet(), ignoreOrder: true);

            // The killed node came back with its data directory and took work again; the survivors are healthy.
            lines.ShouldContain(l => l.Event == "start" && l.Node == killedNode && l.Pid == restarted, record.ToString());
            foreach (var node in new[] { survivor, killed })
            {
                (await cluster[node].Client.GetAsync("/healthz")).StatusCode.ShouldBe(HttpStatusCode.OK);
            }
        }
        finally
        {
            repositories.ForEach(r => r.Dispose());
        }
    }

    [PostgresServerFact]
    public async Task PostgresStoppedAndStartedUnderThreeNodes_NodesSayUnhealthy_Refuse503_AndResumeWithoutARestart()
    {
        await using var postgres = await PostgresServer.StartAsync();
        await using var gitHub = await FakeGitHub.StartAsync();
        await using var chat = await FakeChat.StartAsync();
        using var directory = new TemporaryDirectory();
        using var repository = new TestRepository("octo/outage");
        var record = new DeployRecord(directory.Path);
        var sha = repository.CommitDeployScript(record.Script);
        await using var cluster = await HeavenCluster.StartAsync(3, postgres.ConnectionString, gitHub, chat, directory, new Dictionary<string, string>
        {
            ["Deployments__MaxParallel"] = "2",
        });
        var sent = new List<long>();
        for (var i = 0; i < 6; i++)
        {
            sent.Add(await cluster.DeployAsync(i % 3, repository, sha, $"before-{i}"));
        }

        // They end before the next ones are told to hold: one that started late would hold too, and take a
        // slot the deploys through the outage need (on a busy machine four of them did).
        foreach (var id in sent)
        {
            await gitHub.WaitForStatusAsync(s => s.DeploymentId == id && Final.Contains(s.State), Long, $"deployment {id} to end");
        }

        // Deploys that run through the outage: they hold until PostgreSQL is back.
        record.Hold();
        for (var i = 0; i < 3; i++)
        {
            sent.Add(await cluster.DeployAsync(i, repository, sha, $"through-{i}"));
        }

        Phase("nodes started, deploys sent");
        await Poll.UntilAsync(() => record.Holding().Count == 3, "three deploys to hold", Long, () => record.ToString());
        await cluster.WaitUntilQuietAsync(Long);

        Phase("quiet: stopping PostgreSQL");
        await postgres.StopAsync();

        var outage = new List<(string Body, long GitHubId, string DeliveryId)>();
        for (var node = 0; node < cluster.Count; node++)
        {
            var index = node;
            await Poll.UntilAsync(
                async () => (await cluster[index].Client.GetAsync("/healthz")).StatusCode == HttpStatusCode.ServiceUnavailable,
                $"node {index} to report itself unhealthy",
                Long,
                () => Task.FromResult(cluster[index].Output));
            var answer = await cluster[node].Client.GetAsync("/healthz");
            var report = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement;
            report.GetProperty("status").GetString().ShouldBe("unhealthy");
            report.GetProperty("checks").GetProperty("database").GetString()!.ShouldContain("cannot be reached");

            var (body, id) = cluster.DeploymentBody(repository, sha, $"during-{node}");
            var delivery = Guid.NewGuid().ToString();
            using var refused = await cluster.SendToAsync(node, "deployment", body, delivery);
            refused.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable, cluster[node].Output);
            outage.Add((body, id, delivery));
        }

        Phase("every node refused: starting PostgreSQL");
        await postgres.StartAgainAsync();

        for (var node = 0; node < cluster.Count; node++)
        {
            var index = node;
            await Poll.UntilAsync(
                async () => (await cluster[index].Client.GetAsync("/healthz")).StatusCode == HttpStatusCode.OK,
                $"node {index} to be healthy again",
                Long,
                () => Task.FromResult(cluster[index].Output));
        }

        Phase("every node healthy again");
        record.Release();
        // The refused deliveries left nothing behind: redelivered, each is taken as new (a recorded one would be a duplicate).
        for (var node = 0; node < cluster.Count; node++)
        {
            var (body, id, delivery) = outage[node];
            using var redelivered = await cluster.SendToAsync(node, "deployment", body, delivery);
            redelivered.StatusCode.ShouldBe(HttpStatusCode.Accepted, cluster[node].Output);
            sent.Add(id);
        }

        foreach (var id in sent)
        {
            var final = await gitHub.WaitForStatusAsync(s => s.DeploymentId == id && Final.Contains(s.State), Long, $"deployment {id} to end");
            final.State.ShouldBe("success", $"deployment {id}: {final.Description}\n{cluster.Output()}");
        }

        // Every node runs deploys again, without a restart of its own: six held deploys at two per node can
        // only all be holding at once when each of the three nodes claimed two of them.
        record.Hold();
        var after = new List<long>();
        for (var i = 0; i < 6; i++)
        {
            after.Add(await cluster.DeployAsync(i % 3, repository, sha, $"after-{i}"));
        }

        await Poll.UntilAsync(() => record.Holding().Count(l => after.Contains(l.GitHubId)) == 6, "six deploys after the outage to hold", Long, () => record.ToString());
        record.Holding().Where(l => after.Contains(l.GitHubId)).Select(l => l.Node).Distinct().Count().ShouldBe(3, record.ToString());
        record.Release();
        sent.AddRange(after);
        foreach (var id in after)
        {
            var final = await gitHub.WaitForStatusAsync(s => s.DeploymentId == id && Final.Contains(s.State), Long, $"deployment {id} to end");
            final.State.ShouldBe("success", $"deployment {id}: {final.Description}\n{cluster.Output()}");
        }

        Phase("all ended");
        await cluster.WaitUntilQuietAsync(Long);
        output.WriteLine($"PostgreSQL restarted under three nodes: {clock.Elapsed.TotalSeconds:F1} s");

        var lines = record.Lines();
        foreach (var id in sent)
        {
            lines.Count(l => l.GitHubId == id && l.Event == "start").ShouldBe(1, $"deployment {id} started once\n{record}");
            gitHub.Statuses.Count(s => s.DeploymentId == id && Final.Contains(s.State)).ShouldBe(1, $"deployment {id}");
        }

        var messages = cluster.ChatMessages();
        messages.GroupBy(m => m).Where(g => g.Count() > 1).Select(g => g.Key).ShouldBeEmpty("chat messages sent twice");
        messages.ToHashSet().ShouldBe(gitHub.Statuses.Select(s => (HeavenCluster.Room(s.DeploymentId), s.State)).ToHashSet(), ignoreOrder: true);
    }

    /// <summary>In the record's order, one environment's deploys each end before the next starts.</summary>
    private static void NoOverlap(IReadOnlyList<DeployRecord.Line> lines, DeployRecord record)
    {
        foreach (var target in lines.GroupBy(l => l.Target))
        {
            long? running = null;
            foreach (var line in target.Where(l => l.Event != "hold"))
            {
                if (line.Event == "start")
                {
                    running.ShouldBeNull($"{target.Key}: deployment {line.GitHubId} started while {running} ran\n{record}");
                    running = line.GitHubId;
                }
                else
                {
                    running.ShouldBe(line.GitHubId, $"{target.Key}\n{record}");
                    running = null;
                }
            }

            running.ShouldBeNull($"{target.Key}: deployment {running} never ended\n{record}");
        }
    }
}
