using System.Text.Json;
using System.Threading.Channels;
using Heaven.Configuration;
using Heaven.Deployments;
using Heaven.Model;
using Heaven.Operations;
using Heaven.Output;
using Heaven.Storage;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Storage;

/// <summary>
/// Two Heaven nodes on one PostgreSQL database wake each other (LISTEN/NOTIFY). Every poll that could
/// find the change on its own is stretched to <see cref="SlowPoll"/>, and every wait here ends far
/// sooner: what happens in time can only have been set off by the other node's announcement.
/// </summary>
[Collection(HeavyHostsCollection.Name)]
public sealed class ClusterWakeUpTests
{
    /// <summary>Longer than any wait of these tests: a poll never fires while one runs.</summary>
    private static readonly TimeSpan SlowPoll = TimeSpan.FromMinutes(10);

    /// <summary>What an announced change may take on a loaded machine; far below <see cref="SlowPoll"/>.</summary>
    private static readonly TimeSpan WakeBudget = TimeSpan.FromSeconds(60);

    [PostgresFact]
    public async Task ADeploymentQueuedOnABusyNode_IsStartedByTheOtherNode_LongBeforeItsPoll()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await using var gitHub = await FakeGitHub.StartAsync();
        using var repository = new TestRepository("octo/busy");
        using var gate = new ScriptGate();
        var sha = repository.CommitDeployScript($"echo \"running $DEPLOY_ENV\"\n{gate.Wait()}");
        await using var first = await StartNodeAsync(database, gitHub, maxParallel: 1);
        await using var second = await StartNodeAsync(database, gitHub, maxParallel: 1);

        // One node takes the first deploy and is then at its limit.
        var (holdingGitHubId, holding) = await first.DeployAsync(repository, sha, environment: "one");
        var running = await Poll.ForAsync(() => first.DeploymentAsync(holding), d => d.State == DeploymentState.Running, "the first deploy to start", WakeBudget);
        var (busy, other) = running.LeaseOwner == NodeOf(first) ? (first, second) : (second, first);

        // Queued through the busy node: only the other node can run it, and only an announcement wakes it in time.
        var (queuedGitHubId, queued) = await busy.DeployAsync(repository, sha, environment: "two");
        var started = await Poll.ForAsync(() => busy.DeploymentAsync(queued), d => d.State != DeploymentState.Queued, "the other node to start the deployment queued on the busy one", WakeBudget);
        gate.Open();

        started.LeaseOwner.ShouldBe(NodeOf(other));
        started.State.ShouldBeOneOf(DeploymentState.Running, DeploymentState.Succeeded);
        (await first.WaitForFinalStatusAsync(repository, queuedGitHubId)).State.ShouldBe("success");
        (await first.WaitForFinalStatusAsync(repository, holdingGitHubId)).State.ShouldBe("success");
    }

    [PostgresFact]
    public async Task ADeploymentQueuedOnANodeThatCanRunIt_RunsThere_AndWakesNoOtherNode()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await using var gitHub = await FakeGitHub.StartAsync();
        using var repository = new TestRepository("octo/quiet");
        var sha = repository.CommitDeployScript("echo \"deployed\"");
        await using var first = await StartNodeAsync(database, gitHub, maxParallel: 2);
        await using var second = await StartNodeAsync(database, gitHub, maxParallel: 2);
        var heard = Channel.CreateUnbounded<string>();
        var woke = new List<string>();
        using var queued = second.Host.Services.GetRequiredService<ClusterSignals>().Subscribe(ClusterTopics.DeploymentQueued, subject => Heard(ClusterTopics.DeploymentQueued, subject));
        using var work = second.Host.Services.GetRequiredService<ClusterSignals>().Subscribe(ClusterTopics.WorkRecorded, subject => Heard(ClusterTopics.WorkRecorded, subject));
        using var marker = second.Host.Services.GetRequiredService<ClusterSignals>().Subscribe("test-marker", subject => heard.Writer.TryWrite(subject ?? ""));

        var (gitHubId, heavenId) = await first.DeployAsync(repository, sha);
        (await first.WaitForFinalStatusAsync(repository, gitHubId, WakeBudget)).State.ShouldBe("success");

        // Announcements of one node reach the others in the order it sent them: once this one is heard,
        // any the deploy set off would have been heard before it.
        first.Host.Services.GetRequiredService<ClusterSignals>().Announce("test-marker", "after the deploy");
        using var timeout = new CancellationTokenSource(WakeBudget);
        (await heard.Reader.ReadAsync(timeout.Token)).ShouldBe("after the deploy");
        (await first.DeploymentAsync(heavenId)).LeaseOwner.ShouldBe(NodeOf(first));
        lock (woke)
        {
            // Neither a claim round nor an outbox round on the node that did not run it.
            woke.ShouldBeEmpty();
        }

        void Heard(string topic, string? subject)
        {
            // Null: the listener (re)connected and wakes everyone once, whatever happened.
            if (subject is not null)
            {
                lock (woke)
                {
                    woke.Add($"{topic} {subject}");
                }
            }
        }
    }

    [PostgresFact]
    public async Task ADeploymentQueuedOnANodeAtItsRepositoryLimit_IsStartedByTheOtherNode_LongBeforeItsPoll()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await using var gitHub = await FakeGitHub.StartAsync();
        using var repository = new TestRepository("octo/limited");
        using var gate = new ScriptGate();
        var sha = repository.CommitDeployScript($"echo \"running $DEPLOY_ENV\"\n{gate.Wait()}");
        await using var first = await StartNodeAsync(database, gitHub, maxParallel: 4, perRepository: 1);
        await using var second = await StartNodeAsync(database, gitHub, maxParallel: 4, perRepository: 1);

        // The node that took the webhook runs it: it had a free slot.
        var (holdingGitHubId, holding) = await first.DeployAsync(repository, sha, environment: "one");
        var running = await Poll.ForAsync(() => first.DeploymentAsync(holding), d => d.State == DeploymentState.Running, "the first deploy to start", WakeBudget);
        running.LeaseOwner.ShouldBe(NodeOf(first));

        // Free slots, but none for this repository: the node looks, leaves it, and hands it to the other.
        var (queuedGitHubId, queued) = await first.DeployAsync(repository, sha, environment: "two");
        var started = await Poll.ForAsync(() => first.DeploymentAsync(queued), d => d.State != DeploymentState.Queued, "the other node to start the deployment the first left", WakeBudget);
        gate.Open();

        started.LeaseOwner.ShouldBe(NodeOf(second));
        (await first.WaitForFinalStatusAsync(repository, queuedGitHubId)).State.ShouldBe("success");
        (await first.WaitForFinalStatusAsync(repository, holdingGitHubId)).State.ShouldBe("success");
    }

    [PostgresFact]
    public async Task ADrainOfARunningNode_IsFollowedAtOnce_AndWhatItsIntakeQueuesThenRunsOnTheOtherNode()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await using var gitHub = await FakeGitHub.StartAsync();
        using var repository = new TestRepository("octo/drain-one");
        var sha = repository.CommitDeployScript("echo \"deployed\"");
        await using var drained = await StartNodeAsync(database, gitHub, maxParallel: 2);
        await using var other = await StartNodeAsync(database, gitHub, maxParallel: 2);
        // The server has read its drain switch (none) and would keep that for its whole (stretched) poll.
        var (warmGitHubId, warm) = await drained.DeployAsync(repository, sha, environment: "warm-up");
        (await drained.WaitForFinalStatusAsync(repository, warmGitHubId, WakeBudget)).State.ShouldBe("success");
        (await drained.DeploymentAsync(warm)).LeaseOwner.ShouldBe(NodeOf(drained));

        // heaven drain on that node's machine: a process of its own, whose announcement comes through the database.
        var heard = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var listening = drained.Host.Services.GetRequiredService<ClusterSignals>().Subscribe(ClusterTopics.DrainsChanged, _ => heard.TrySetResult());
        var command = new NodeDrains(
            drained.Host.Services.GetRequiredService<IHeavenDatabase>(),
            drained.Host.Services.GetRequiredService<NodeIdentity>(),
            TimeProvider.System,
            other.Host.Services.GetRequiredService<ClusterSignals>());
        await command.DrainAsync(allNodes: false, "ops", CancellationToken.None);
        await heard.Task.WaitAsync(WakeBudget);

        var (gitHubId, heavenId) = await drained.DeployAsync(repository, sha, environment: "after-drain");
        (await drained.WaitForFinalStatusAsync(repository, gitHubId, WakeBudget)).State.ShouldBe("success");
        (await drained.DeploymentAsync(heavenId)).LeaseOwner.ShouldBe(NodeOf(other));
    }

    [PostgresFact]
    public async Task ACancelMadeOnOneNode_StopsTheDeployRunningOnAnother_LongBeforeItLooksAtTheFlag()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await using var gitHub = await FakeGitHub.StartAsync();
        using var repository = new TestRepository("octo/cancel");
        using var scratch = new TemporaryDirectory();
        var trapped = Path.Combine(scratch.Path, "trapped");
        var sha = repository.CommitDeployScript($"""
            trap 'wait; touch {trapped}; echo "stopping on INT"; exit 130' INT
            echo "deploying"
            {ScriptGate.UntilTrapped}
            """);
        await using var runner = await StartNodeAsync(database, gitHub, maxParallel: 1);
        // Takes webhooks and API calls only: every deploy runs on the other node.
        await using var front = await StartNodeAsync(database, gitHub, maxParallel: 0);

        var (gitHubId, heavenId) = await front.DeployAsync(repository, sha);
        await Poll.UntilAsync(async () => (await runner.LogAsync(heavenId)).Contains("deploying\n", StringComparison.Ordinal), "the deploy to run on the other node", WakeBudget);
        (await runner.DeploymentAsync(heavenId)).LeaseOwner.ShouldBe(NodeOf(runner));

        var result = await front.Host.Services.GetRequiredService<DeploymentActions>().CancelAsync(heavenId, "alice", CancellationToken.None);
        result.Status.ShouldBe(ActionStatus.Done);

        var final = await front.WaitForFinalStatusAsync(repository, gitHubId, WakeBudget);
        final.Description.ShouldBe(StatusTexts.CancelledBy("alice"));
        File.Exists(trapped).ShouldBeTrue("the deploy script's INT trap ran");
        (await runner.LogAsync(heavenId)).ShouldContain("stopping on INT");
    }

    [PostgresFact]
    public async Task AViewerOnOneNode_FollowsTheLiveLogOfADeployRunningOnAnother_ToItsEnd()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await using var gitHub = await FakeGitHub.StartAsync();
        using var repository = new TestRepository("octo/live");
        using var gate = new ScriptGate();
        var sha = repository.CommitDeployScript($"""
            echo "first line"
            {gate.Wait()}
            echo "second line"
            """);
        await using var runner = await StartNodeAsync(database, gitHub, maxParallel: 1);
        await using var viewer = await StartNodeAsync(database, gitHub, maxParallel: 0);
        viewer.Host.Services.GetRequiredService<DeploymentLogFollower>().DatabasePollInterval = SlowPoll;

        var (_, heavenId) = await viewer.DeployAsync(repository, sha);
        using var timeout = new CancellationTokenSource(WakeBudget);
        var seen = new List<ServerSentEvent>();
        await foreach (var item in ApiClient.For(viewer.Host).EventsAsync($"/deployments/{heavenId}/log", cancellationToken: timeout.Token))
        {
            seen.Add(item);
            if (item.Event == "line" && Text(item) == "first line")
            {
                // Printed on the other node after this viewer is following: it comes only through an announcement.
                gate.Open();
            }
        }

        (await viewer.DeploymentAsync(heavenId)).LeaseOwner.ShouldBe(NodeOf(runner));
        seen[^1].Event.ShouldBe("end");
        using (var end = JsonDocument.Parse(seen[^1].Data))
        {
            end.RootElement.GetProperty("state").GetString().ShouldBe("success");
        }

        var lines = seen.Where(e => e.Event == "line").Select(Text).ToList();
        lines.ShouldContain("first line");
        lines.ShouldContain("second line");
        lines.IndexOf("second line").ShouldBeGreaterThan(lines.IndexOf("first line"));
    }

    [PostgresFact]
    public async Task OutboxWorkRecordedOnOneNode_WakesThatKindsConsumersOnTheOther()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await using var gitHub = await FakeGitHub.StartAsync();
        await using var first = await StartNodeAsync(database, gitHub, maxParallel: 1);
        await using var second = await StartNodeAsync(database, gitHub, maxParallel: 1);
        var recording = first.Host.Services.GetRequiredService<WorkItemSignal>();
        var waiting = second.Host.Services.GetRequiredService<WorkItemSignal>();
        // A kind of its own: Heaven's consumers wait on theirs with the same signal.
        const string kind = "cluster-test:chat";
        using var timeout = new CancellationTokenSource(WakeBudget);

        // A consumer on the other node, parked with a poll it never reaches here. Its first wait returns at
        // once: the listener's (re)connect woke every consumer, for what it may have missed.
        await waiting.WaitAsync("cluster-test:", TimeSpan.FromMilliseconds(1), timeout.Token);
        var consumer = waiting.WaitAsync("cluster-test:", SlowPoll, timeout.Token);
        await waiting.ParkedAsync(["cluster-test:"]);
        await ListeningAsync(second);
        consumer.IsCompleted.ShouldBeFalse();

        recording.Wake(kind);

        await consumer;
        timeout.IsCancellationRequested.ShouldBeFalse();
    }

    [PostgresFact]
    public async Task ResumingEveryNode_StartsWhatWaitedInTheQueue_WithoutWaitingForAPoll()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await using var gitHub = await FakeGitHub.StartAsync();
        using var repository = new TestRepository("octo/drained");
        var sha = repository.CommitDeployScript("echo \"deployed while resumed\"");
        await using var first = await StartNodeAsync(database, gitHub, maxParallel: 1);
        await using var second = await StartNodeAsync(database, gitHub, maxParallel: 1);

        // heaven drain --all: neither node claims, the deployment waits in the queue.
        await first.Host.Services.GetRequiredService<NodeDrains>().DrainAsync(allNodes: true, "ops", CancellationToken.None);
        var (gitHubId, heavenId) = await first.DeployAsync(repository, sha);
        (await first.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Queued);

        // heaven resume --all on the other node: its announcement sends both dispatchers to the queue.
        await second.Host.Services.GetRequiredService<NodeDrains>().ResumeAsync(allNodes: true, CancellationToken.None);

        (await first.WaitForFinalStatusAsync(repository, gitHubId, WakeBudget)).State.ShouldBe("success");
    }

    [PostgresFact]
    public async Task ViewersOnOneNode_OfADeployRunningOnAnother_ShareOneReader_AndEachGetEveryLineOnce_AlsoOneResuming()
    {
        const int viewers = 5;
        await using var database = await PostgresDatabase.CreateAsync();
        await using var gitHub = await FakeGitHub.StartAsync();
        using var repository = new TestRepository("octo/shared");
        using var gate = new ScriptGate();
        var sha = repository.CommitDeployScript($"""
            echo "line 1"
            echo "line 2"
            echo "line 3"
            {gate.Wait()}
            echo "line 4"
            echo "line 5"
            """);
        await using var runner = await StartNodeAsync(database, gitHub, maxParallel: 1);
        await using var viewer = await StartNodeAsync(database, gitHub, maxParallel: 0);
        var follower = viewer.Host.Services.GetRequiredService<DeploymentLogFollower>();
        follower.DatabasePollInterval = SlowPoll;

        var (_, heavenId) = await viewer.DeployAsync(repository, sha);
        using var timeout = new CancellationTokenSource(WakeBudget);
        var path = $"/deployments/{heavenId}/log";
        var seen = Enumerable.Range(0, viewers + 1).Select(_ => new List<ServerSentEvent>()).ToList();
        Task Follow(List<ServerSentEvent> events, string? lastEventId) => Task.Run(async () =>
        {
            await foreach (var item in ApiClient.For(viewer.Host).EventsAsync(path, lastEventId, timeout.Token))
            {
                lock (events)
                {
                    events.Add(item);
                }
            }
        });
        bool Saw(List<ServerSentEvent> events, string text)
        {
            lock (events)
            {
                return events.Any(e => e.Event == "line" && Text(e) == text);
            }
        }

        var following = seen.Take(viewers).Select(events => Follow(events, null)).ToList();
        await Poll.UntilAsync(() => seen.Take(viewers).All(events => Saw(events, "line 3")), "every viewer has the lines before the gate", WakeBudget);

        // A browser reconnecting after "line 1" joins the same reader.
        string resumeAfter;
        lock (seen[0])
        {
            resumeAfter = seen[0].Single(e => e.Event == "line" && Text(e) == "line 1").Id!;
        }

        following.Add(Follow(seen[viewers], resumeAfter));
        await Poll.UntilAsync(() => Saw(seen[viewers], "line 3"), "the resumed viewer catches up", WakeBudget);
        await Poll.UntilAsync(() => follower.SharedReaders!.ViewersOf(heavenId) == viewers + 1, "every viewer follows the one shared reader", WakeBudget);
        follower.SharedReaders!.Count.ShouldBe(1);

        // Printed on the other node after every viewer is following: it comes only through announcements.
        gate.Open();
        await Poll.SignalAsync(Task.WhenAll(following), "every viewer ends", WakeBudget);

        foreach (var events in seen)
        {
            events[^1].Event.ShouldBe("end");
            var lines = events.Where(e => e.Event == "line").ToList();
            lines.Select(e => long.Parse(e.Id!, System.Globalization.CultureInfo.InvariantCulture)).ShouldBeInOrder(SortDirection.Ascending);
            lines.Select(e => e.Id).Distinct().Count().ShouldBe(lines.Count);
        }

        foreach (var events in seen.Take(viewers))
        {
            events.Where(e => e.Event == "line").Select(Text).Where(t => t.StartsWith("line ", StringComparison.Ordinal))
                .ShouldBe(["line 1", "line 2", "line 3", "line 4", "line 5"]);
        }

        var resumed = seen[viewers].Where(e => e.Event == "line").ToList();
        resumed[0].Id.ShouldBe((long.Parse(resumeAfter, System.Globalization.CultureInfo.InvariantCulture) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        resumed.Select(Text).Where(t => t.StartsWith("line ", StringComparison.Ordinal)).ShouldBe(["line 2", "line 3", "line 4", "line 5"]);
        await Poll.UntilAsync(() => follower.SharedReaders.Count == 0 && follower.SharedReaders.Running == 0, "the reader is gone with the deployment", WakeBudget);
    }

    [PostgresFact]
    public async Task TheListener_ReconnectsAfterItsConnectionIsTerminated_AndKeepsDeliveringWakeUps()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await using var gitHub = await FakeGitHub.StartAsync();
        await using var first = await StartNodeAsync(database, gitHub, maxParallel: 0);
        await using var second = await StartNodeAsync(database, gitHub, maxParallel: 0);
        var listener = await ListeningAsync(first);
        var signals = first.Host.Services.GetRequiredService<ClusterSignals>();
        var heard = Channel.CreateUnbounded<string?>();
        using var subscription = signals.Subscribe("test-topic", subject => heard.Writer.TryWrite(subject));

        var ended = await database.ScalarAsync<bool>(
            $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{ClusterSignals.ListenerApplicationName} {signals.Origin}'");
        ended.ShouldBeTrue();

        // Back: it listens again and wakes every subscriber once, for what it may have missed meanwhile.
        await Poll.UntilAsync(() => listener.Connections >= 2, "the listener to reconnect", WakeBudget);
        using var timeout = new CancellationTokenSource(WakeBudget);
        (await heard.Reader.ReadAsync(timeout.Token)).ShouldBeNull();

        second.Host.Services.GetRequiredService<ClusterSignals>().Announce("test-topic", "after the reconnect");
        (await heard.Reader.ReadAsync(timeout.Token)).ShouldBe("after the reconnect");
    }

    [PostgresFact]
    public async Task AnIdleNodeThatHearsTheOthers_LooksForDueStatusesOnlyWhenOneBecomesDue_AndEverySecondWhileItCannotHear()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await using var gitHub = await FakeGitHub.StartAsync();
        using var repository = new TestRepository("octo/idle");
        var sha = repository.CommitDeployScript("echo \"deployed\"");
        await using var node = await StartNodeAsync(database, gitHub, maxParallel: 2, quietPoll: SlowPoll);
        var signal = node.Host.Services.GetRequiredService<WorkItemSignal>();
        string[] statuses = [WorkItemKinds.PostDeploymentStatus];

        // GitHub refuses the first status until its rate limit resets, seconds away: that status waits for
        // the reset and the deployment's later ones wait behind it. The sender goes quiet meanwhile (no
        // announcement comes) and must still look again when the retry becomes due, not at its quiet poll.
        var reset = DateTimeOffset.UtcNow.AddSeconds(5);
        gitHub.RateLimitExhaustedNext("statuses", reset);
        var (gitHubId, _) = await node.DeployAsync(repository, sha);
        (await node.WaitForFinalStatusAsync(repository, gitHubId, WakeBudget)).State.ShouldBe("success");
        gitHub.StatusesFor(repository.FullName, gitHubId).Select(s => s.State).ShouldBe(["in_progress", "success"]);

        // Idle now, and hearing the other nodes: after at most one ordinary poll it sleeps until woken,
        // where it would otherwise look every second.
        Task nextLook;
        var looks = 0;
        while (true)
        {
            nextLook = signal.ParkedAsync(statuses, next: true);
            if (await Task.WhenAny(nextLook, Task.Delay(TimeSpan.FromSeconds(3))) != nextLook)
            {
                break;
            }

            looks++;
            looks.ShouldBeLessThan(3, "an idle sender that hears the other nodes kept looking for work every few seconds");
        }

        // Without the other nodes' announcements (the LISTEN connection lost) it polls every second again.
        node.Host.Services.GetRequiredService<ClusterSignals>().Hearing = false;
        signal.Wake(WorkItemKinds.PostDeploymentStatus);
        await Poll.SignalAsync(nextLook, "the woken sender to finish its round", WakeBudget);
        for (var i = 0; i < 3; i++)
        {
            await node.Host.IdleAsync(OutboxConsumer.StatusSender, next: true, WakeBudget);
        }
    }

    private static async Task<DeployHarness> StartNodeAsync(PostgresDatabase database, FakeGitHub gitHub, int maxParallel, int perRepository = 4, TimeSpan? quietPoll = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Database:Provider"] = "Postgres",
            ["Database:ConnectionString"] = database.ConnectionString,
            ["Deployments:MaxParallel"] = maxParallel.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Deployments:MaxParallelPerRepository"] = perRepository.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Deployments:Timeout"] = "600",
            // The lease is renewed every third of it, and the cancel flag is read at least that often.
            ["Deployments:LeaseSeconds"] = "1800",
        };
        var node = await DeployHarness.StartAsync(settings, gitHub: gitHub, overrideServices: services => services.PostConfigure<DeploymentOptions>(options =>
        {
            options.DispatchPollInterval = SlowPoll;
            options.CancelPollInterval = SlowPoll;
        }).PostConfigure<StatusDeliveryOptions>(options => options.QuietPoll = quietPoll ?? options.QuietPoll));
        await ListeningAsync(node);
        return node;
    }

    /// <summary>The node's listener, once it has heard its channel at least once.</summary>
    private static async Task<ClusterListener> ListeningAsync(DeployHarness node)
    {
        var listener = node.Host.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<ClusterListener>().Single();
        await Poll.UntilAsync(() => listener.Connections >= 1, "the node to listen for the other nodes' wake-ups", WakeBudget);
        return listener;
    }

    private static string NodeOf(DeployHarness node) => node.Host.Services.GetRequiredService<NodeIdentity>().Id;

    private static string Text(ServerSentEvent item)
    {
        using var line = JsonDocument.Parse(item.Data);
        return line.RootElement.GetProperty("text").GetString()!;
    }
}
