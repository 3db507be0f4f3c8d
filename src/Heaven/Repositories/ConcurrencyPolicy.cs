namespace Heaven.Repositories;

/// <summary>What happens to a deployment whose environment is busy with another deploy.</summary>
public enum ConcurrencyPolicy
{
    /// <summary>Closed at once with <c>error</c> "Already deploying." (the original Heaven).</summary>
    Reject,

    /// <summary>Waits its turn, first come first served, with a <c>queued</c> status.</summary>
    Queue,

    /// <summary>Waits, but only the newest waiting deployment is kept; older waiting ones are closed.</summary>
    Supersede,
}
