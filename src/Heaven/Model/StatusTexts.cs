using System.Globalization;

namespace Heaven.Model;

/// <summary>The words people read in GitHub and in chat. GitHub keeps at most 140 characters.</summary>
internal static class StatusTexts
{
    /// <summary>The original Heaven's words for a deployment to a busy environment.</summary>
    public const string AlreadyDeploying = "Already deploying.";

    public static string Short(string sha) => Heaven.Model.CommitSha.Short(sha);

    public static string Deploying(DeploymentRecord d) => $"Deploying {Short(d.Sha)} to {d.Environment}";

    public static string Deployed(DeploymentRecord d, TimeSpan took) => $"Deployed {Short(d.Sha)} to {d.Environment} in {Duration(took)}";

    public static string TimedOut(TimeSpan timeout) => $"timed out after {Duration(timeout)}";

    /// <summary>The <c>queued</c> status of a deployment waiting for its environment.</summary>
    public static string Waiting(string environment, int ahead) =>
        string.Create(CultureInfo.InvariantCulture, $"Waiting for {environment} ({ahead} ahead)");

    public static string SupersededBy(long gitHubDeploymentId) =>
        string.Create(CultureInfo.InvariantCulture, $"Superseded by deployment {gitHubDeploymentId}");

    public static string QueueFull(int waiting) =>
        string.Create(CultureInfo.InvariantCulture, $"Already deploying; the queue is full ({waiting} waiting).");

    public static string CancelledBy(string who) => $"Cancelled by {who}";

    /// <summary>A deploy still running when Heaven's stop (SIGTERM) ran out of Deployments:DrainTimeout, or was told twice.</summary>
    public const string CancelledByShutdown = "Cancelled: Heaven was shut down";

    public static string Duration(TimeSpan span) => span.TotalSeconds < 90
        ? string.Create(CultureInfo.InvariantCulture, $"{Math.Max(0, (int)Math.Round(span.TotalSeconds))}s")
        : string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalMinutes}m{span.Seconds:00}s");
}
