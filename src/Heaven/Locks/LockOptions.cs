using Heaven.Configuration;

namespace Heaven.Locks;

/// <summary>Environment locks. Section <c>Locks</c>.</summary>
public sealed class LockOptions : ISelfValidatingOptions
{
    public const string Section = "Locks";

    /// <summary>
    /// Let the lock's holder deploy through their own lock. Off by default, as in the original: a lock
    /// stops everyone until it is removed.
    /// </summary>
    public bool OwnerMayDeploy { get; set; }

    /// <summary>How long a new lock lasts; none (until unlocked) by default.</summary>
    public TimeSpan? DefaultTtl { get; set; }

    public IEnumerable<string> Validate()
    {
        if (DefaultTtl is { } ttl && (ttl <= TimeSpan.Zero || ttl > TimeSpan.FromDays(366)))
        {
            yield return $"Locks:DefaultTtl must be a positive time span of at most 366 days (for example 04:00:00 or 1.00:00:00); got {ttl}.";
        }
    }
}
