namespace Heaven.Output;

/// <summary>
/// The moments at which paced viewers of live logs are sent their next batch, shared by all of them:
/// ticks every <see cref="Period"/> on one timer, armed only while a viewer waits.
/// </summary>
/// <remarks>
/// Each viewer of a flood waiting on a timer of its own woke on its own (200 viewers: 800 separate
/// wake-ups a second, each a timer, a thread-pool dispatch and a thread woken from sleep, which
/// together cost the deploy's process more CPU than the batches themselves). On shared ticks they wake
/// together: one timer, and their batches run back to back on the thread the tick fires on.
/// </remarks>
internal sealed class PaceClock(TimeProvider time)
{
    /// <summary>A paced viewer's round: how often it is sent a batch when it is behind a flood.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromMilliseconds(250);

    private readonly long origin = time.GetTimestamp();
    private readonly Lock gate = new();

    /// <summary>Tick number → what the viewers waiting for it await. Few entries: waits are about a period.</summary>
    private readonly SortedDictionary<long, TaskCompletionSource> waiting = [];

    private ITimer? timer;
    private long armedFor = long.MaxValue;
    private long lastFired = -1;

    /// <summary>
    /// Completes at the tick nearest to <paramref name="wait"/> from now (at once when that tick has
    /// passed): up to half a period early or late, the same tick as every other viewer near it.
    /// </summary>
    public Task WaitAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        var tick = TickNearest(time.GetElapsedTime(origin) + wait);
        TaskCompletionSource ticked;
        lock (gate)
        {
            if (tick <= lastFired)
            {
                return Task.CompletedTask;
            }

            if (!waiting.TryGetValue(tick, out ticked!))
            {
                // Continuations run where the tick fires (see Fire), not each dispatched on its own.
                ticked = new TaskCompletionSource();
                waiting.Add(tick, ticked);
            }

            if (tick < armedFor)
            {
                Arm(tick);
            }
        }

        return ticked.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Whether the timer is set for a tick: only while a viewer waits.</summary>
    internal bool Armed
    {
        get
        {
            lock (gate)
            {
                return armedFor != long.MaxValue;
            }
        }
    }

    private static long TickNearest(TimeSpan sinceOrigin) => (long)Math.Round(sinceOrigin / Period, MidpointRounding.AwayFromZero);

    /// <summary>Under the gate: the timer fires at <paramref name="tick"/>.</summary>
    private void Arm(long tick)
    {
        armedFor = tick;
        var due = (Period * tick) - time.GetElapsedTime(origin);
        if (due < TimeSpan.Zero)
        {
            due = TimeSpan.Zero;
        }

        if (timer is null)
        {
            timer = time.CreateTimer(_ => Fire(), null, due, Timeout.InfiniteTimeSpan);
        }
        else
        {
            timer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    private void Fire()
    {
        List<TaskCompletionSource>? due = null;
        lock (gate)
        {
            if (armedFor == long.MaxValue)
            {
                return;
            }

            // A timer may fire a little early or late: the tick it fired for, and any before it, are due.
            var now = Math.Max(armedFor, TickNearest(time.GetElapsedTime(origin)));

            while (waiting.Count > 0)
            {
                var (tick, ticked) = waiting.First();
                if (tick > now)
                {
                    break;
                }

                waiting.Remove(tick);
                (due ??= []).Add(ticked);
            }

            lastFired = Math.Max(lastFired, now);
            armedFor = long.MaxValue;
            if (waiting.Count > 0)
            {
                Arm(waiting.First().Key);
            }
        }

        // Outside the gate, and on this thread: the viewers' batches run one after another up to their
        // next wait (a batch is written to its connection's buffer and the send handed to the server),
        // one thread-pool item for all of them rather than one each, beside the deploy they watch.
        foreach (var ticked in due ?? [])
        {
            ticked.TrySetResult();
        }
    }
}
