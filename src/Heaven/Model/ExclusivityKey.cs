namespace Heaven.Model;

/// <summary>
/// What "the same environment" means for exclusivity: (repository, app, environment). At most one
/// deployment runs per key (a unique index on running rows). Not to be confused with an environment
/// lock (<c>deploy:lock</c>, in Locks), which a person takes to stop deploys altogether.
/// </summary>
public static class ExclusivityKey
{
    /// <summary><c>payload.name</c> when present (the original Heaven's lock key), else the repository's name.</summary>
    public static string AppOf(string repository, string? payloadName) =>
        string.IsNullOrWhiteSpace(payloadName) ? repository[(repository.IndexOf('/') + 1)..] : payloadName;

    public static string KeyOf(string repository, string app, string environment) =>
        $"{repository}|{app}|{environment}".ToLowerInvariant();
}
