using Heaven.Storage;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;
using Microsoft.Extensions.Logging.Abstractions;

namespace Heaven.Tests.Storage;

/// <summary>Wake-ups within one node (SQLite): subscribers hear announcements at once, nothing leaves the process.</summary>
public sealed class ClusterSignalsTests
{
    private readonly ClusterSignals signals = new(NullLogger<ClusterSignals>.Instance);

    [Fact]
    public void AnAnnouncement_ReachesThisNodesSubscribersOfItsTopic_AtOnce_AndNoOneAfterTheyLeave()
    {
        var heard = new List<string?>();
        var other = new List<string?>();
        var subscription = signals.Subscribe(ClusterTopics.LogWritten, heard.Add);
        using var unrelated = signals.Subscribe(ClusterTopics.CancelRequested, other.Add);

        signals.Announce(ClusterTopics.LogWritten, "42");
        subscription.Dispose();
        signals.Announce(ClusterTopics.LogWritten, "43");

        signals.SpansNodes.ShouldBeFalse();
        heard.ShouldBe(["42"]);
        other.ShouldBeEmpty();
    }

    [Fact]
    public void ASubscriberOfThisNodesOwnAnnouncements_HearsThem_ButNotTheOtherNodes()
    {
        var here = new List<string?>();
        var everywhere = new List<string?>();
        using var own = signals.SubscribeHere(ClusterTopics.DeploymentFinished, here.Add);
        using var all = signals.Subscribe(ClusterTopics.DeploymentFinished, everywhere.Add);

        signals.Announce(ClusterTopics.DeploymentFinished, "1");
        signals.Received($"another-node|{ClusterTopics.DeploymentFinished}|2");
        signals.WakeAll();

        here.ShouldBe(["1"]);
        everywhere.ShouldBe(["1", "2", null]);
    }

    [Fact]
    public void AnAnnouncementForTheOtherNodes_WakesNoSubscriberHere()
    {
        var heard = new List<string?>();
        using var subscription = signals.Subscribe(ClusterTopics.DeploymentQueued, heard.Add);

        signals.AnnounceElsewhere(ClusterTopics.DeploymentQueued);

        heard.ShouldBeEmpty();
    }

    [Fact]
    public void AFailingSubscriber_DoesNotKeepTheAnnouncementFromTheOthers()
    {
        var heard = new List<string?>();
        using var failing = signals.Subscribe(ClusterTopics.DeploymentQueued, _ => throw new InvalidOperationException("broken subscriber"));
        using var working = signals.Subscribe(ClusterTopics.DeploymentQueued, heard.Add);

        signals.Announce(ClusterTopics.DeploymentQueued, "7");

        heard.ShouldBe(["7"]);
    }

    [Fact]
    public async Task WakingEverything_WakesEveryWorkItemConsumer_WhateverItsKind()
    {
        var work = new WorkItemSignal(TimeProvider.System, signals);
        // A first wait returns at once for wakes before it; this one starts from a clean count.
        await work.WaitAsync("notify:", TimeSpan.FromMilliseconds(1), CancellationToken.None);
        using var timeout = new CancellationTokenSource(Poll.DefaultTimeout);
        var waiting = work.WaitAsync("notify:", TimeSpan.FromHours(1), timeout.Token);
        await work.ParkedAsync(["notify:"]);

        signals.WakeAll();

        await waiting;
        timeout.IsCancellationRequested.ShouldBeFalse();
    }

    [Fact]
    public async Task AWorkItemWake_GoesThroughTheAnnouncements_ToThatKindsConsumers()
    {
        var work = new WorkItemSignal(TimeProvider.System, signals);
        var announced = new List<string?>();
        using var listening = signals.Subscribe(ClusterTopics.WorkRecorded, announced.Add);
        using var timeout = new CancellationTokenSource(Poll.DefaultTimeout);
        var waiting = work.WaitAsync("notify:", TimeSpan.FromHours(1), timeout.Token);
        await work.ParkedAsync(["notify:"]);

        work.Wake("notify:slack");

        await waiting;
        timeout.IsCancellationRequested.ShouldBeFalse();
        announced.ShouldBe(["notify:slack"]);
    }
}
