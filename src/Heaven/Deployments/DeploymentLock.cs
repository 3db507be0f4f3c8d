namespace Heaven.Deployments;

/// <summary>What "the same environment" means for exclusivity: (repository, app, environment).</summary>
public static class DeploymentLock
{
    /// <summary><c>payload.name</c> when present (the original Heaven's lock key), else the repository's name.</summary>
    public static string AppOf(string repository, string? payloadName) =>
        string.IsNullOrWhiteSpace(payloadName) ? repository[(repository.IndexOf('/') + 1)..] : payloadName;

    public static string KeyOf(string repository, string app, string environment) =>
        $"{repository}|{app}|{environment}".ToLowerInvariant();
}
