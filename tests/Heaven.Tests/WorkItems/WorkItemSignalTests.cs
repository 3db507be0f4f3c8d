using Heaven.Storage;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;
using Microsoft.Extensions.Logging.Abstractions;

namespace Heaven.Tests.WorkItems;

/// <summary>The wake-up between the intake and the outbox consumers: prompt, never lost, and kind by kind.</summary>
public sealed class WorkItemSignalTests
{
    private static readonly TimeSpan Poll = TimeSpan.FromMinutes(10);
    private readonly TestClock clock = new();
    private readonly WorkItemSignal signal;

    public WorkItemSignalTests() => signal = new WorkItemSignal(clock);

    [Fact]
    public async Task Wake_EndsAWaitOfThatKind()
    {
        var waiting = signal.WaitAsync("deployment_status", Poll, CancellationToken.None);
        waiting.IsCompleted.ShouldBeFalse();

        signal.Wake("deployment_status");

        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task OnSeveralNodes_AWakeOfAKindThisNodeSends_StaysHere_UnlessItsConsumerIsBusyLongerThanItsPoll()
    {
        // Spans nodes; nothing listens on port 1, so what is announced goes nowhere (and says so in a log).
        await using var cluster = new ClusterSignals("Host=127.0.0.1;Port=1;Username=nobody;Timeout=1", NullLogger<ClusterSignals>.Instance);
        var local = new WorkItemSignal(clock, cluster);
        var announced = new List<string?>();
        using var listening = cluster.Subscribe(ClusterTopics.WorkRecorded, announced.Add);
        var waiting = local.WaitAsync("notify:", Poll, CancellationToken.None);
        await local.ParkedAsync(["notify:"]);

        local.Wake("notify:slack");
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        // No consumer of this kind here: every node is told.
        local.Wake("deployment_status");
        // The consumer is in a round now: it takes this in its next one.
        local.Wake("notify:teams");
        announced.ShouldBe(["deployment_status"]);

        // A round longer than its poll interval: the other nodes had better help.
        clock.Advance(Poll + TimeSpan.FromSeconds(1));
        local.Wake("notify:chat");
        announced.ShouldBe(["deployment_status", "notify:chat"]);
    }

    [Fact]
    public async Task WakeWhileBusy_IsKept_ForTheNextWait()
    {
        signal.Wake("status");

        await signal.WaitAsync("status", Poll, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        // Seen once: the wait after it sleeps again.
        signal.WaitAsync("status", Poll, CancellationToken.None).IsCompleted.ShouldBeFalse();
    }

    [Fact]
    public async Task WakeBeforeTheFirstWait_IsNotLost()
    {
        signal.Wake("deployment_status");

        await signal.WaitAsync("deployment_status", Poll, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task OtherKinds_DoNotWake_ButPrefixesAndLists_Do()
    {
        var statusEvents = signal.WaitAsync("deployment_status", Poll, CancellationToken.None);
        var notifications = signal.WaitAsync("notify:", Poll, CancellationToken.None);
        var autoDeploy = signal.WaitAsync(["status", "check_suite"], Poll, CancellationToken.None);

        signal.Wake("notify:slack");
        signal.Wake("check_suite");

        // A wake ends the waits it matches there and then: the ones it did not match are still parked.
        signal.ParkedAsync(["notify:"]).IsCompleted.ShouldBeFalse();
        signal.ParkedAsync(["check_suite", "status"]).IsCompleted.ShouldBeFalse();
        signal.ParkedAsync(["deployment_status"]).IsCompleted.ShouldBeTrue();
        await notifications.WaitAsync(TimeSpan.FromSeconds(5));
        await autoDeploy.WaitAsync(TimeSpan.FromSeconds(5));
        statusEvents.IsCompleted.ShouldBeFalse();
    }

    [Fact]
    public async Task WithoutAWake_TheWaitEndsAfterThePollInterval()
    {
        var waiting = signal.WaitAsync("deployment_status", Poll, CancellationToken.None);
        clock.Pending.ShouldBe([Poll]);

        // The fake clock fires a due timer while it is advanced: one still pending afterwards was not due.
        clock.Advance(Poll - TimeSpan.FromSeconds(1));
        clock.Pending.ShouldBe([TimeSpan.FromSeconds(1)]);
        waiting.IsCompleted.ShouldBeFalse();
        clock.Advance(TimeSpan.FromSeconds(1));

        clock.Pending.ShouldBeEmpty();
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task ParkedAsync_TellsWhenAConsumerWaits_AndWhenItWaitsAgain()
    {
        var parked = signal.ParkedAsync(["deployment_status"]);
        parked.IsCompleted.ShouldBeFalse();

        var waiting = signal.WaitAsync("deployment_status", Poll, CancellationToken.None);

        parked.IsCompleted.ShouldBeTrue();
        signal.ParkedAsync(["deployment_status"]).IsCompleted.ShouldBeTrue();
        var next = signal.ParkedAsync(["deployment_status"], next: true);
        next.IsCompleted.ShouldBeFalse();
        signal.Wake("deployment_status");
        signal.ParkedAsync(["deployment_status"]).IsCompleted.ShouldBeFalse();
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        next.IsCompleted.ShouldBeFalse();

        _ = signal.WaitAsync("deployment_status", Poll, CancellationToken.None);

        next.IsCompleted.ShouldBeTrue();
    }

    [Fact]
    public async Task Cancellation_EndsTheWait()
    {
        using var stopping = new CancellationTokenSource();
        var waiting = signal.WaitAsync("deployment_status", Poll, stopping.Token);

        await stopping.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(5)));
    }
}
