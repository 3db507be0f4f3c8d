using Microsoft.Extensions.Time.Testing;

namespace Heaven.Tests.Infrastructure;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that also tells which of its timers are still to fire: code on it
/// that sleeps (<c>Task.Delay(wait, time)</c>, <c>task.WaitAsync(timeout, time)</c>, a
/// <c>CancellationTokenSource</c> with a timeout) does so on one of these timers. A test waits for the
/// code to be asleep (<see cref="SleepingAsync"/>) before it moves the clock, instead of sleeping
/// itself "to let it get there"; and after moving the clock, a timer still pending is the proof that
/// nothing was due yet.
/// </summary>
public sealed class TestClock : FakeTimeProvider
{
    private readonly Lock gate = new();
    private readonly List<TrackedTimer> timers = [];
    private TaskCompletionSource armed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TestClock()
    {
    }

    public TestClock(DateTimeOffset start)
        : base(start)
    {
    }

    /// <summary>How long until each armed timer fires, soonest first.</summary>
    public IReadOnlyList<TimeSpan> Pending
    {
        get
        {
            var now = GetUtcNow();
            lock (gate)
            {
                // DueAt is read once per timer: another thread may fire (and clear) it meanwhile.
                return timers.Select(t => t.DueAt).OfType<DateTimeOffset>().Select(due => due - now).Order().ToList();
            }
        }
    }

    /// <summary>Waits until a timer is armed whose time left matches <paramref name="left"/> (any, when null): the code is asleep on this clock.</summary>
    /// <returns>The time left on the first such timer.</returns>
    public async Task<TimeSpan> SleepingAsync(string what, Func<TimeSpan, bool>? left = null, TimeSpan? timeout = null) =>
        (await Poll.ForAsync(
            () => Pending.Where(p => left?.Invoke(p) ?? true).Select(p => (TimeSpan?)p).FirstOrDefault(),
            found => found is not null,
            what + " to sleep on the test clock",
            timeout,
            _ => $"Timers pending: {Describe()}"))!.Value;

    /// <summary>
    /// Until <paramref name="stop"/>: whenever code sleeps on this clock, moves the clock on to its timer
    /// at once. For code that retries on the clock, where the test cares about the outcome, not the waits.
    /// </summary>
    public async Task KeepMovingAsync(CancellationToken stop)
    {
        var dueNowSightings = 0;
        while (!stop.IsCancellationRequested)
        {
            Task next;
            lock (gate)
            {
                next = armed.Task;
            }

            var pending = Pending;
            if (pending.Count > 0 && pending[0] > TimeSpan.Zero)
            {
                dueNowSightings = 0;
                Advance(pending[0]);
                continue;
            }

            if (pending.Count > 0)
            {
                // Due now: the fake fires it as it is made; let that happen. A timer armed while the
                // clock moved (between its Arm and the fake's own Change) is tracked a little earlier
                // than the fake will fire it: after a while, nudge the clock until it does, rather
                // than spin here for ever.
                if (++dueNowSightings < 50)
                {
                    await Task.Yield();
                }
                else
                {
                    dueNowSightings = 0;
                    Advance(TimeSpan.FromMilliseconds(10));
                }

                continue;
            }

            dueNowSightings = 0;

            try
            {
                await next.WaitAsync(stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>The pending timers, for a message.</summary>
    public string Describe()
    {
        var pending = Pending;
        return pending.Count == 0 ? "none" : string.Join(", ", pending.Select(p => p.ToString()));
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var tracked = new TrackedTimer(this);
        tracked.Arm(dueTime, period);
        Track(tracked);

        // The fake fires due timers synchronously, even from inside CreateTimer when the due time is zero.
        tracked.Inner = base.CreateTimer(
            s =>
            {
                tracked.Fired();
                callback(s);
            },
            state,
            dueTime,
            period);
        return tracked;
    }

    private void Track(TrackedTimer timer)
    {
        lock (gate)
        {
            if (!timers.Contains(timer))
            {
                timers.Add(timer);
            }
        }

        Armed();
    }

    private void Armed()
    {
        TaskCompletionSource old;
        lock (gate)
        {
            old = armed;
            armed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        old.TrySetResult();
    }

    private void Forget(TrackedTimer timer)
    {
        lock (gate)
        {
            timers.Remove(timer);
        }
    }

    private sealed class TrackedTimer(TestClock clock) : ITimer
    {
        private readonly Lock gate = new();
        private DateTimeOffset? dueAt;
        private TimeSpan period = Timeout.InfiniteTimeSpan;

        public ITimer? Inner { get; set; }

        /// <summary>When it fires next (on the fake clock), or null when it will not.</summary>
        public DateTimeOffset? DueAt
        {
            get
            {
                lock (gate)
                {
                    return dueAt;
                }
            }
        }

        public void Arm(TimeSpan dueTime, TimeSpan newPeriod)
        {
            lock (gate)
            {
                dueAt = dueTime == Timeout.InfiniteTimeSpan ? null : clock.GetUtcNow() + dueTime;
                period = newPeriod;
            }
        }

        public void Fired()
        {
            lock (gate)
            {
                dueAt = period == Timeout.InfiniteTimeSpan || period == TimeSpan.Zero ? null : dueAt + period;
            }

            if (DueAt is null)
            {
                clock.Forget(this);
            }
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Arm(dueTime, period);
            clock.Track(this);
            return Inner?.Change(dueTime, period) ?? true;
        }

        public void Dispose()
        {
            Disarm();
            Inner?.Dispose();
        }

        public async ValueTask DisposeAsync()
        {
            Disarm();
            if (Inner is not null)
            {
                await Inner.DisposeAsync();
            }
        }

        private void Disarm()
        {
            lock (gate)
            {
                dueAt = null;
            }

            clock.Forget(this);
        }
    }
}
