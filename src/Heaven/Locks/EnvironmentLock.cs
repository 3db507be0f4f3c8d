namespace Heaven.Locks;

/// <summary>
/// A lock on one environment of one repository: while it holds (and has not expired), deployments
/// there are rejected. Keyed by (repository, environment) like the original Heaven's
/// <c>&lt;owner/repo&gt;-&lt;env&gt;-lock</c>: a lock stops every app the repository deploys there,
/// because people lock an environment ("production is frozen"), not one app in it.
/// </summary>
public sealed class EnvironmentLock
{
    public long Id { get; set; }

    /// <summary><c>owner/name</c> as GitHub spelled it when the lock was taken.</summary>
    public required string Repository { get; set; }

    /// <summary>The environment as the lock's deployment spelled it.</summary>
    public required string Environment { get; set; }

    /// <summary>(repository, environment) in lower case: GitHub names are case-insensitive.</summary>
    public required string LockKey { get; set; }

    /// <summary>The app (<c>payload.name</c> or the repository's name) of the lock's deployment; informative only.</summary>
    public string? App { get; set; }

    public required string LockedBy { get; set; }

    public string? Reason { get; set; }

    public DateTime LockedAt { get; set; }

    /// <summary>Null: until unlocked. An expired lock blocks nothing and is replaced by the next lock.</summary>
    public DateTime? ExpiresAt { get; set; }

    /// <summary>The GitHub deployment that took the lock, if one did.</summary>
    public long? GitHubDeploymentId { get; set; }

    public bool IsActive(DateTime now) => ExpiresAt is not { } expires || expires > now;

    public static string KeyOf(string repository, string environment) => $"{repository}|{environment}".ToLowerInvariant();
}
