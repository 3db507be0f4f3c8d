using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Heaven.Bench.Deploy;

/// <summary>
/// Where a deployment's time went, from Heaven's own rows (read-only, after the run) and the fake
/// GitHub's arrival times: claimed by the dispatcher (deployments.started_at), in_progress and final
/// status queued in the outbox (work_items.created_at; the final one is written with the final state),
/// each status received by GitHub. One clock: server and bench run on the same machine.
/// </summary>
internal sealed record Phases(double AcceptedToClaimed, double ClaimedToStartQueued, double StartQueuedToFinalQueued, double FinalQueuedToGitHub, double StartQueuedToGitHub)
{
    public static async Task<Dictionary<long, Phases>> ReadAsync(string databasePath, IEnumerable<DeployTimes> deploys)
    {
        var rows = new Dictionary<long, (DateTime Started, DateTime FirstItem, DateTime LastItem)>();
        await using (var connection = new SqliteConnection($"Data Source={databasePath};Mode=ReadOnly"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = """
                SELECT d.git_hub_deployment_id, d.started_at,
                       (SELECT min(w.created_at) FROM work_items w WHERE w.deployment_id = d.id),
                       (SELECT max(w.created_at) FROM work_items w WHERE w.deployment_id = d.id)
                FROM deployments d
                WHERE d.started_at IS NOT NULL
                """;
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                if (!reader.IsDBNull(2))
                {
                    rows[reader.GetInt64(0)] = (Utc(reader.GetString(1)), Utc(reader.GetString(2)), Utc(reader.GetString(3)));
                }
            }
        }

        var result = new Dictionary<long, Phases>();
        foreach (var deploy in deploys)
        {
            if (rows.TryGetValue(deploy.GitHubId, out var row))
            {
                result[deploy.GitHubId] = new Phases(
                    Ms(row.Started - deploy.Accepted.UtcDateTime),
                    Ms(row.FirstItem - row.Started),
                    Ms(row.LastItem - row.FirstItem),
                    Ms(deploy.Final.UtcDateTime - row.LastItem),
                    Ms(deploy.InProgress.UtcDateTime - row.FirstItem));
            }
        }

        return result;
    }

    /// <summary>p50 / p95 of each phase as table rows.</summary>
    public static IEnumerable<string> Rows(IReadOnlyCollection<Phases> phases)
    {
        string Row(string name, Func<Phases, double> of)
        {
            var values = phases.Select(of).ToList();
            return $"| {name} | {Stats.Ms(Stats.Percentile(values, 50))} | {Stats.Ms(Stats.Percentile(values, 95))} | {Stats.Ms(values.Max())} |";
        }

        yield return "| phase (from Heaven's rows and GitHub's arrival times) | p50 | p95 | max |";
        yield return "|---|---:|---:|---:|";
        yield return Row("202 → claimed by the dispatcher", p => p.AcceptedToClaimed);
        yield return Row("claimed → `in_progress` queued (gist created, waited for)", p => p.ClaimedToStartQueued);
        yield return Row("`in_progress` queued → received by GitHub", p => p.StartQueuedToGitHub);
        yield return Row("`in_progress` queued → final queued (checkout, script, cleanup, log and gist completed)", p => p.StartQueuedToFinalQueued);
        yield return Row("final queued → received by GitHub", p => p.FinalQueuedToGitHub);
    }

    private static DateTime Utc(string text) =>
        DateTime.SpecifyKind(DateTime.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal), DateTimeKind.Utc);

    private static double Ms(TimeSpan span) => span.TotalMilliseconds;
}
