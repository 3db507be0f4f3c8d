using Heaven.GitHub;
using Heaven.Repositories;

namespace Heaven.AutoDeploy;

/// <summary>
/// Whether a commit's required contexts are green. A context is a commit status context or a check
/// run name. Green: a status in <c>success</c>; a check run completed as <c>success</c>, <c>neutral</c>
/// or <c>skipped</c> (what GitHub's required checks accept). Of several check runs with one name
/// (re-runs), the newest counts.
/// </summary>
internal static class RequiredContexts
{
    private static readonly string[] PassingConclusions = ["success", "neutral", "skipped"];

    /// <summary>Null when every required context is green; else why not, in words.</summary>
    public static string? Problem(AutoDeploySettings settings, string shortSha, GitHubCombinedStatus combined, IReadOnlyList<GitHubCheckRun> runs)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(combined);
        ArgumentNullException.ThrowIfNull(runs);
        var reported = combined.Statuses
            .Select(s => new Reported(s.Context, s.State, s.State == "success"))
            .Concat(runs
                .GroupBy(r => r.Name, StringComparer.Ordinal)
                .Select(g => g.OrderByDescending(r => r.StartedAt ?? DateTimeOffset.MinValue).ThenByDescending(r => r.Id).First())
                .Select(r => new Reported(
                    r.Name,
                    r.Status == "completed" ? r.Conclusion ?? "completed" : r.Status,
                    r.Status == "completed" && r.Conclusion is { } conclusion && PassingConclusions.Contains(conclusion))))
            .ToList();

        if (settings.RequiresAllContexts)
        {
            if (reported.Count == 0)
            {
                return $"no commit status or check run has reported on {shortSha} yet";
            }

            var notGreen = reported.Where(r => !r.Green).ToList();
            return notGreen.Count == 0 ? null : Describe(notGreen[0]) + (notGreen.Count > 1 ? $" (and {notGreen.Count - 1} more)" : "");
        }

        foreach (var required in settings.Contexts)
        {
            var matching = reported.Where(r => string.Equals(r.Name, required, StringComparison.Ordinal)).ToList();
            if (matching.Count == 0)
            {
                return $"context {required} has not reported on {shortSha} yet";
            }

            // A status and a check run may share a name; both must be green.
            if (matching.FirstOrDefault(r => !r.Green) is { } failing)
            {
                return Describe(failing);
            }
        }

        return null;
    }

    private static string Describe(Reported context) => $"context {context.Name} is {context.State.Replace('_', ' ')}";

    private sealed record Reported(string Name, string State, bool Green);
}
