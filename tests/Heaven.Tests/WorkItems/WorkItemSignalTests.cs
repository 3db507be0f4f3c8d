using Heaven.WorkItems;
using Microsoft.Extensions.Time.Testing;

namespace Heaven.Tests.WorkItems;

/// <summary>The wake-up between the intake and the outbox consumers: prompt, never lost, and kind by kind.</summary>
public sealed class WorkItemSignalTests
{
    private static readonly TimeSpan Poll = TimeSpan.FromMinutes(10);
    private readonly FakeTimeProvider clock = new();
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

        await notifications.WaitAsync(TimeSpan.FromSeconds(5));
        await autoDeploy.WaitAsync(TimeSpan.FromSeconds(5));
        await Task.Delay(50);
        statusEvents.IsCompleted.ShouldBeFalse();
    }

    [Fact]
    public async Task WithoutAWake_TheWaitEndsAfterThePollInterval()
    {
        var waiting = signal.WaitAsync("deployment_status", Poll, CancellationToken.None);

        clock.Advance(Poll - TimeSpan.FromSeconds(1));
        await Task.Delay(50);
        waiting.IsCompleted.ShouldBeFalse();
        clock.Advance(TimeSpan.FromSeconds(1));

        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
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
