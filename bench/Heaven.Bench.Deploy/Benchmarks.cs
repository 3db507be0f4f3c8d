using System.Diagnostics;
using System.Globalization;
using System.Text;
using Heaven.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace Heaven.Bench.Deploy;

internal sealed record BenchSettings(string WorkDirectory, FakeGitHub GitHub, BenchRepository Repository, int Deploys, int Parallel, int FloodRuns, bool Verbose, string? ServerLogDirectory, IReadOnlyDictionary<string, string> Extra)
{
    public Dictionary<string, string> Settings(params (string Key, string Value)[] own)
    {
        var all = own.ToDictionary(o => o.Key, o => o.Value);
        foreach (var (key, value) in Extra)
        {
            all[key] = value;
        }

        return all;
    }
}

/// <summary>One benchmark's markdown: a table, and notes under it.</summary>
internal sealed record Section(string Title, List<string> Lines);

internal static class Benchmarks
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Deploy target: at most this much slower (p50) than the same steps done by bash.</summary>
    public const double OverheadTargetMs = 50;

    /// <summary>Parallel target: at most this many times the wall time of the same deploys as bash jobs.</summary>
    public const double ParallelTargetRatio = 1.5;

    /// <summary>Output target: at least this share of the rate of the same stream piped into a file.</summary>
    public const double OutputTargetRatio = 0.5;

    /// <summary>
    /// Sequential no-op deploys, each followed by the same steps done by bash: what Heaven adds between
    /// the 202 and the final status to the work a deployment needs anyway.
    /// </summary>
    public static async Task<Section> OverheadAsync(BenchSettings settings)
    {
        await using var server = await HeavenServer.StartAsync(settings.WorkDirectory, settings.GitHub.ApiUrl, settings.Settings(), settings.Verbose);
        try
        {
            // Warm: the first deploy creates and fetches the mirror; the next ones warm the JIT and the pools.
            var shell = new ShellBaseline(settings.WorkDirectory, settings.Repository);
            for (var i = 0; i < 10; i++)
            {
                Deployments.EnsureSucceeded([await Deployments.DeployAsync(server, settings.GitHub, settings.Repository, "noop", "production")]);
                await shell.DeployAsync("noop");
            }

            // Alternately, so that whatever else the machine does falls on both sides alike.
            var runs = new List<DeployTimes>();
            var bare = new List<double>();
            for (var i = 0; i < settings.Deploys; i++)
            {
                runs.Add(await Deployments.DeployAsync(server, settings.GitHub, settings.Repository, "noop", "production"));
                bare.Add((await shell.DeployAsync("noop")).TotalMilliseconds);
            }

            Deployments.EnsureSucceeded(runs);
            var raw = runs.Select(r => r.AcceptedToFinalMs).ToList();
            var toStart = runs.Select(r => r.AcceptedToInProgressMs).ToList();
            var toEnd = runs.Select(r => r.InProgressToFinalMs).ToList();
            var p50 = Stats.Percentile(raw, 50);
            var bareP50 = Stats.Percentile(bare, 50);
            string Row(string name, double p) =>
                $"| {name} | {Stats.Ms(Stats.Percentile(raw, p))} | {Stats.Ms(Stats.Percentile(bare, p))} | {Stats.SignedMs(Stats.Percentile(raw, p) - Stats.Percentile(bare, p))} |";
            var lines = new List<string>
            {
                $"{settings.Deploys} sequential deploys of `script/noop` (`exit 0` under bash) to one environment, after 10 warm-up deploys (mirror fetched, JIT warm). " +
                "Heaven: from the 202 arriving at the sender to the fake GitHub receiving the `success` status. " +
                $"Without Heaven, after each of them, the same deployment by {ShellBaseline.Describe(locked: false)}: from bash's launch to its exit " +
                "(no `flock`: nothing else uses the mirror, and Heaven's lock is a system call, not a process).",
                "",
                "| deploy of `script/noop` | Heaven | bash, same run | Heaven − bash |",
                "|---|---:|---:|---:|",
                Row("p50", 50),
                Row("p95", 95),
                $"| max | {Stats.Ms(raw.Max())} | {Stats.Ms(bare.Max())} | |",
                "",
                "| check | Heaven | bash | Heaven − bash | target | |",
                "|---|---:|---:|---:|---:|---|",
                $"| p50 of a deploy | {Stats.Ms(p50)} | {Stats.Ms(bareP50)} | {Stats.SignedMs(p50 - bareP50)} | ≤ bash + {OverheadTargetMs:0} ms | {Stats.Met(p50 - bareP50 <= OverheadTargetMs)} |",
                "",
                "| Heaven's deploy in parts | p50 | p95 | max |",
                "|---|---:|---:|---:|",
                $"| 202 → `in_progress` status | {Stats.Ms(Stats.Percentile(toStart, 50))} | {Stats.Ms(Stats.Percentile(toStart, 95))} | {Stats.Ms(toStart.Max())} |",
                $"| `in_progress` → final status | {Stats.Ms(Stats.Percentile(toEnd, 50))} | {Stats.Ms(Stats.Percentile(toEnd, 95))} | {Stats.Ms(toEnd.Max())} |",
            };
            var phases = await Phases.ReadAsync(server.DatabasePath, runs);
            lines.Add("");
            lines.AddRange(Phases.Rows(phases.Values));
            return new Section("Overhead: sequential no-op deploys", lines);
        }
        finally
        {
            SaveLog(settings, server, "overhead");
        }
    }

    /// <summary>
    /// 50 deploys to 50 environments at once, each <c>sleep 1</c>, between two runs of the same 50 as bash
    /// jobs in parallel.
    /// </summary>
    public static async Task<Section> ParallelAsync(BenchSettings settings)
    {
        await using var server = await HeavenServer.StartAsync(settings.WorkDirectory, settings.GitHub.ApiUrl, settings.Settings(("Deployments:MaxParallel", "64"), ("Deployments:MaxParallelPerRepository", "64")), settings.Verbose);
        try
        {
            var shell = new ShellBaseline(settings.WorkDirectory, settings.Repository);
            for (var i = 0; i < 5; i++)
            {
                Deployments.EnsureSucceeded([await Deployments.DeployAsync(server, settings.GitHub, settings.Repository, "noop", "warm-up")]);
                await shell.DeployAsync("noop");
            }

            var count = settings.Parallel;
            var bareBefore = (await shell.ParallelAsync("sleep", count)).TotalSeconds;
            var start = DateTimeOffset.UtcNow;
            var watch = Stopwatch.StartNew();
            var sends = await Task.WhenAll(Enumerable.Range(1, count).Select(i =>
                Task.Run(() => Deployments.SendAsync(server, settings.Repository, "sleep", $"env-{i:00}"))));
            var allAccepted = watch.Elapsed;
            var runs = await Task.WhenAll(sends.Select(s => Deployments.WaitAsync(settings.GitHub, s.GitHubId, s.Sent, s.Accepted, TimeSpan.FromSeconds(120))));
            Deployments.EnsureSucceeded(runs);
            var wall = (runs.Max(r => r.Final) - start).TotalSeconds;
            var bareAfter = (await shell.ParallelAsync("sleep", count)).TotalSeconds;
            var bare = (bareBefore + bareAfter) / 2;
            var ratio = wall / bare;
            var toStart = runs.Select(r => (r.InProgress - start).TotalMilliseconds).ToList();
            var toEnd = runs.Select(r => (r.Final - start).TotalMilliseconds).ToList();
            var perDeploy = runs.Select(r => (r.Final - r.InProgress).TotalMilliseconds).ToList();
            var lines = new List<string>
            {
                $"{count} deployments of `script/sleep` (`sleep 1`) to {count} environments of one repository, the {count} signed webhooks sent at once " +
                "(Deployments:MaxParallel=64, MaxParallelPerRepository=64), after 5 warm-up deploys. Wall time: from the first send to the fake GitHub receiving the last final status. " +
                $"Without Heaven, just before and just after: one bash starting the same {count} deployments at once as background jobs, each by {ShellBaseline.Describe(locked: true)}; " +
                "wall time from bash's launch to its exit (the last job's end); the baseline is the mean of the two.",
                "",
                "| measure | Heaven | bash jobs, same run | ratio | target | |",
                "|---|---:|---:|---:|---:|---|",
                $"| wall time, {count} deploys of `sleep 1` | {Stats.S(wall)} | {Stats.S(bare)} ({Stats.S(bareBefore)} before, {Stats.S(bareAfter)} after) | {Stats.Times(ratio)} | ≤ {Stats.Times(ParallelTargetRatio)} | {Stats.Met(ratio <= ParallelTargetRatio)} |",
                "",
                "| Heaven's run in parts | value |",
                "|---|---:|",
                $"| all {count} webhooks answered 202 | {Stats.S(allAccepted.TotalSeconds)} |",
                $"| first / median / last `in_progress` status (from the first send) | {Stats.S(toStart.Min() / 1000)} / {Stats.S(Stats.Median(toStart) / 1000)} / {Stats.S(toStart.Max() / 1000)} |",
                $"| first / median / last final status (from the first send) | {Stats.S(toEnd.Min() / 1000)} / {Stats.S(Stats.Median(toEnd) / 1000)} / {Stats.S(toEnd.Max() / 1000)} |",
                $"| one deploy, `in_progress` → final: min / median / max | {Stats.S(perDeploy.Min() / 1000)} / {Stats.S(Stats.Median(perDeploy) / 1000)} / {Stats.S(perDeploy.Max() / 1000)} |",
            };
            var phases = await Phases.ReadAsync(server.DatabasePath, runs);
            lines.Add("");
            lines.AddRange(Phases.Rows(phases.Values));
            return new Section($"Parallel: {count} deploys to {count} environments", lines);
        }
        finally
        {
            SaveLog(settings, server, "parallel");
        }
    }

    /// <summary>
    /// Deploys printing 200 MiB of lines, one after another on one fresh server: throughput through
    /// masking and storage beside the same stream piped into a file by bash just before each of them,
    /// and the server's memory over its baseline before the first of them.
    /// </summary>
    public static async Task<Section> OutputAsync(BenchSettings settings)
    {
        await using var server = await HeavenServer.StartAsync(settings.WorkDirectory, settings.GitHub.ApiUrl, settings.Settings(), settings.Verbose);
        try
        {
            for (var i = 0; i < 5; i++)
            {
                Deployments.EnsureSucceeded([await Deployments.DeployAsync(server, settings.GitHub, settings.Repository, "noop", "production")]);
            }

            // Let the warm-up's garbage settle, then take the baseline as the mean of a second of samples.
            await Task.Delay(TimeSpan.FromSeconds(3));
            var baselineSamples = new List<long>();
            for (var i = 0; i < 10; i++)
            {
                baselineSamples.Add(server.Memory().Rss);
                await Task.Delay(100);
            }

            var baseline = baselineSamples.Average();
            var peakReset = server.ResetPeak();
            var samples = new List<(double At, long Rss)>();
            using var sampling = new CancellationTokenSource();
            var clock = Stopwatch.StartNew();
            var sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    var rss = server.Memory().Rss;
                    lock (samples)
                    {
                        samples.Add((clock.Elapsed.TotalSeconds, rss));
                    }

                    try
                    {
                        await Task.Delay(100, sampling.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            });

            var shell = new ShellBaseline(settings.WorkDirectory, settings.Repository);
            var runs = new List<(DeployTimes Times, TimeSpan Cpu, long Peak, long After)>();
            var pipes = new List<double>();
            for (var i = 0; i < settings.FloodRuns; i++)
            {
                var (piped, pipedBytes) = await shell.PipeAsync("flood");
                if (pipedBytes != BenchRepository.FloodBytes)
                {
                    throw new InvalidOperationException($"script/flood printed {pipedBytes} bytes, not {BenchRepository.FloodBytes}");
                }

                pipes.Add(BenchRepository.FloodBytes / piped.TotalSeconds);
                var from = samples.Count;
                var cpuBefore = server.CpuTime();
                var run = await Deployments.DeployAsync(server, settings.GitHub, settings.Repository, "flood", "production", TimeSpan.FromMinutes(5));
                var cpu = server.CpuTime() - cpuBefore;
                await Task.Delay(500);
                Deployments.EnsureSucceeded([run]);
                long peakOfRun;
                lock (samples)
                {
                    peakOfRun = samples.Skip(from).Select(s => s.Rss).DefaultIfEmpty(0).Max();
                }

                runs.Add((run, cpu, peakOfRun, server.Memory().Rss));
                await Task.Delay(1000);
            }

            await sampling.CancelAsync();
            await sampler;
            var hwm = server.Memory().Peak;
            var sampledPeak = samples.Max(s => s.Rss);
            var peak = peakReset ? Math.Max(hwm, sampledPeak) : sampledPeak;
            var growth = peak - baseline;

            var rates = runs.Select(r => BenchRepository.FloodBytes / (r.Times.InProgressToFinalMs / 1000)).ToList();
            var first = rates[0];
            var warm = rates.Count > 1 ? Stats.Median(rates.Skip(1).ToList()) : double.NaN;
            var pipe = Stats.Median(pipes);
            var stored = await StoredLogAsync(server.DatabasePath);
            // Heaven's deployment ids start again in each fresh server; the gist id it recorded is unique.
            var gist = stored.GistId is { } gistId ? settings.GitHub.Gists.GetValueOrDefault(gistId) : null;
            var gistBytes = gist?.Files.Values.Sum(f => (long)Encoding.UTF8.GetByteCount(f)) ?? 0;
            var gistUpdates = gist is null ? 0 : settings.GitHub.RequestsTo("gist-update").Count(r => r.Path.EndsWith(gist.Id, StringComparison.Ordinal));

            var lines = new List<string>
            {
                $"{settings.FloodRuns} deploys, one after another on one fresh server (after 5 no-op warm-up deploys), of `script/flood`: " +
                $"`yes '<99 characters>' | head -n {BenchRepository.FloodLines}`, {BenchRepository.FloodLines:N0} lines, {Stats.MB(BenchRepository.FloodBytes)} on stdout. " +
                "Defaults: Output:MaxLogBytes 50 MB (head and tail kept, the middle elided), gist mirror on (GistMaxBytes 4 MB, an update at most every 5 s). " +
                $"Throughput = {Stats.MB(BenchRepository.FloodBytes)} / (`in_progress` → final status), so it includes the checkout, completing the log and the gist, and posting the status. " +
                "Without Heaven, just before each deploy: bash running `script/flood | cat > file` (a file in the same temporary folder as Heaven's database), " +
                $"{Stats.MB(BenchRepository.FloodBytes)} / (launch → exit); the baseline is the median of the {pipes.Count} runs ({string.Join(", ", pipes.Select(Stats.Rate))}). " +
                "Memory: the server process's RSS (/proc/<pid>/status) sampled every 100 ms from the first webhook to the end, and VmHWM after resetting it (`echo 5 > /proc/<pid>/clear_refs`) " +
                "before the first; the baseline is the mean RSS over 1 s after the warm-up and 3 s of rest.",
                "",
                "| measure | Heaven | pipe into a file, same run | ratio | target | |",
                "|---|---:|---:|---:|---:|---|",
                $"| throughput, first 200 MB deploy of a fresh server | {Stats.Rate(first)} | {Stats.Rate(pipe)} | {Stats.Times(first / pipe)} | ≥ {Stats.Times(OutputTargetRatio)} | {Stats.Met(first / pipe >= OutputTargetRatio)} |",
            };
            if (rates.Count > 1)
            {
                lines.Add($"| throughput, later deploys (median of {rates.Count - 1}) | {Stats.Rate(warm)} | {Stats.Rate(pipe)} | {Stats.Times(warm / pipe)} | ≥ {Stats.Times(OutputTargetRatio)} | {Stats.Met(warm / pipe >= OutputTargetRatio)} |");
            }

            // Memory has no baseline to divide by: the pipe holds 64 KB whatever the machine, and a server's budget is set in MB.
            lines.Add($"| server peak RSS growth over baseline, all {runs.Count} deploys | {Stats.MB(growth)} (baseline {Stats.MB(baseline)}, peak {Stats.MB(peak)}) | | | ≤ 150 MB | {Stats.Met(growth <= 150 * 1024 * 1024)} |");
            lines.Add($"| stored log of the last deploy | {stored.Chunks} chunks, {Stats.MB(stored.Bytes)} of text, {stored.Lines:N0} lines kept | | | ≤ 50 MB | {Stats.Met(stored.Bytes <= 50 * 1024 * 1024 + 1024 * 1024)} |");
            lines.Add(gist is null
                ? "| gist of the last deploy | none (Output:MirrorToGist is off) | | | | |"
                : $"| gist of the last deploy | {gist.Files.Count} files, {Stats.MB(gistBytes)}, {gistUpdates} updates | | | | |");
            if (settings.Extra.Count > 0)
            {
                lines.Add("");
                lines.Add("Settings changed for this run: " + string.Join(", ", settings.Extra.Select(kv => $"`{kv.Key}={kv.Value}`")));
            }
            lines.Add("");
            lines.Add("| deploy | `in_progress` → final | throughput | pipe just before | 202 → final | server CPU (user + system) | peak RSS during it | RSS 0.5 s after |");
            lines.Add("|---|---:|---:|---:|---:|---:|---:|---:|");
            for (var i = 0; i < runs.Count; i++)
            {
                var (times, cpu, peakOfRun, after) = runs[i];
                lines.Add($"| {i + 1} | {Stats.S(times.InProgressToFinalMs / 1000)} | {Stats.Rate(rates[i])} | {Stats.Rate(pipes[i])} | {Stats.S(times.AcceptedToFinalMs / 1000)} | {Stats.S(cpu.TotalSeconds)} | {Stats.MB(peakOfRun)} | {Stats.MB(after)} |");
            }

            if (!peakReset)
            {
                lines.Add("");
                lines.Add("(The kernel refused to reset VmHWM; the peak is the highest 100 ms sample.)");
            }

            lines.Add("");
            lines.Add("RSS samples (s since the first webhook: MB): " + string.Join(", ", Thin(samples, 30).Select(s => $"{s.At.ToString("0.0", Invariant)}: {(s.Rss / 1048576.0).ToString("0", Invariant)}")));
            return new Section("Output: 200 MB of lines", lines);
        }
        finally
        {
            SaveLog(settings, server, "output");
        }
    }

    private static IEnumerable<(double At, long Rss)> Thin(List<(double At, long Rss)> samples, int count)
    {
        var step = Math.Max(1, samples.Count / count);
        return samples.Where((_, i) => i % step == 0);
    }

    private static async Task<(long DeploymentId, int Chunks, long Bytes, long Lines, string? GistId)> StoredLogAsync(string databasePath)
    {
        await using var connection = new SqliteConnection($"Data Source={databasePath};Mode=ReadOnly");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT deployment_id, count(*), sum(length(CAST(content AS BLOB))), sum(line_count),
                   (SELECT gist_id FROM deployments d WHERE d.id = deployment_id)
            FROM deployment_log_chunks
            WHERE deployment_id = (SELECT max(deployment_id) FROM deployment_log_chunks)
            GROUP BY deployment_id
            """;
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt32(1), reader.GetInt64(2), reader.GetInt64(3), reader.IsDBNull(4) ? null : reader.GetString(4));
    }

    private static void SaveLog(BenchSettings settings, HeavenServer server, string name)
    {
        if (settings.ServerLogDirectory is { } folder)
        {
            Directory.CreateDirectory(folder);
            File.WriteAllLines(Path.Combine(folder, $"heaven-{name}.log"), server.Output);
        }
    }
}
