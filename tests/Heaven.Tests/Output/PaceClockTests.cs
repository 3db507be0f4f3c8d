using System.Globalization;
using Heaven.Output;
using Microsoft.Extensions.Time.Testing;

namespace Heaven.Tests.Output;

/// <summary>The ticks paced viewers of a flood share, so that they wake together and not each on its own.</summary>
public sealed class PaceClockTests
{
    private static (FakeTimeProvider Time, PaceClock Clock) Started()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-03T12:00:00Z", CultureInfo.InvariantCulture));
        return (time, new PaceClock(time));
    }

    [Fact]
    public void ViewersDueNearTheSameMoment_WakeOnTheSameTick_AndNoneBeforeIt()
    {
        var (time, clock) = Started();

        var early = clock.WaitAsync(TimeSpan.FromMilliseconds(200), default);
        time.Advance(TimeSpan.FromMilliseconds(30));
        var late = clock.WaitAsync(TimeSpan.FromMilliseconds(260), default);

        // Due at 200 ms and 290 ms: both on the tick at 250 ms.
        time.Advance(TimeSpan.FromMilliseconds(219));
        early.IsCompleted.ShouldBeFalse();
        late.IsCompleted.ShouldBeFalse();
        time.Advance(TimeSpan.FromMilliseconds(1));
        early.IsCompletedSuccessfully.ShouldBeTrue();
        late.IsCompletedSuccessfully.ShouldBeTrue();
    }

    [Fact]
    public void AViewerDueNearerTheNextTick_WaitsForThatOne_AndTheClockStopsWhenNobodyWaits()
    {
        var (time, clock) = Started();

        clock.Armed.ShouldBeFalse();
        var first = clock.WaitAsync(TimeSpan.FromMilliseconds(250), default);
        var second = clock.WaitAsync(TimeSpan.FromMilliseconds(400), default);
        clock.Armed.ShouldBeTrue();

        time.Advance(TimeSpan.FromMilliseconds(250));
        first.IsCompletedSuccessfully.ShouldBeTrue();
        second.IsCompleted.ShouldBeFalse();
        time.Advance(TimeSpan.FromMilliseconds(250));
        second.IsCompletedSuccessfully.ShouldBeTrue();

        // Nothing waits: no tick is kept armed, and a later wait is still served on time.
        clock.Armed.ShouldBeFalse();
        time.Advance(TimeSpan.FromSeconds(10));
        var later = clock.WaitAsync(TimeSpan.FromMilliseconds(250), default);
        time.Advance(TimeSpan.FromMilliseconds(249));
        later.IsCompleted.ShouldBeFalse();
        time.Advance(TimeSpan.FromMilliseconds(1));
        later.IsCompletedSuccessfully.ShouldBeTrue();
    }

    [Fact]
    public void AWaitWhoseNearestTickHasPassed_EndsAtOnce_AndACancelledWaitEndsCancelled()
    {
        var (time, clock) = Started();

        var waited = clock.WaitAsync(TimeSpan.FromMilliseconds(250), default);
        time.Advance(TimeSpan.FromMilliseconds(250));
        waited.IsCompletedSuccessfully.ShouldBeTrue();

        // 10 ms after the tick that fired: its nearest tick is that one.
        time.Advance(TimeSpan.FromMilliseconds(10));
        clock.WaitAsync(TimeSpan.Zero, default).IsCompletedSuccessfully.ShouldBeTrue();

        using var cancel = new CancellationTokenSource();
        var cancelled = clock.WaitAsync(TimeSpan.FromMilliseconds(250), cancel.Token);
        cancel.Cancel();
        cancelled.IsCanceled.ShouldBeTrue();
    }
}
