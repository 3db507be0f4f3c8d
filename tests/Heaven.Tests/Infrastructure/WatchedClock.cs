namespace Heaven.Tests.Infrastructure;

/// <summary>
/// The real clock, telling the timers code set on it: a test sees that the code under test is
/// retrying (it set its third retry timer) instead of sleeping and guessing.
/// </summary>
public sealed class WatchedClock : TimeProvider
{
    private readonly Lock gate = new();
    private readonly List<TimeSpan> requested = [];

    /// <summary>The due time of every timer created so far, in order.</summary>
    public IReadOnlyList<TimeSpan> Requested
    {
        get
        {
            lock (gate)
            {
                return [.. requested];
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        lock (gate)
        {
            requested.Add(dueTime);
        }

        return System.CreateTimer(callback, state, dueTime, period);
    }
}
