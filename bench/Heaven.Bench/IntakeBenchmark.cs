using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Heaven.Storage;
using Microsoft.Data.Sqlite;

namespace Heaven.Bench;

/// <summary>
/// The intake benchmark: signed <c>deployment</c> webhooks at a fixed concurrency against the bare
/// endpoint (signature check only) and then against <c>POST /events</c> of the same server, followed by a
/// durability check: the server is killed and every 202 must be a row in its database.
/// </summary>
internal static class IntakeBenchmark
{
    public const string Command = "dotnet run -c Release --project bench/Heaven.Bench -- intake";

    private const double TargetRatio = 0.40;
    private const double TargetP99Ms = 25;

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var started = DateTimeOffset.UtcNow;
        var loadAtStart = LoadAverage();
        var template = PayloadTemplate.Load();
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var key = Encoding.UTF8.GetBytes(secret);
        var root = Path.Combine(Path.GetTempPath(), "heaven-bench", Guid.NewGuid().ToString("N"));
        var dataDirectory = Path.Combine(root, "data");
        Directory.CreateDirectory(root);

        var warmup = TimeSpan.FromSeconds(options.WarmupSeconds);
        var duration = TimeSpan.FromSeconds(options.DurationSeconds);
        var phaseSeconds = options.WarmupSeconds + options.DurationSeconds;
        Progress($"payload {template.Length} bytes; {options.Connections} connections; {options.WarmupSeconds:0.#} s warm-up + {options.DurationSeconds:0.#} s per phase; data in {dataDirectory}");

        var diskBefore = DiskProbe.Measure(root);
        Progress($"data directory disk: 16 KiB write + fsync p50 {diskBefore.P50Ms:0.00} ms, p99 {diskBefore.P99Ms:0.00} ms");
        var results = new List<PhaseResult>();
        DiskProbe.Result? diskAfter = null;
        long? deploymentRows = null, deliveryRows = null, acceptedDeliveryRows = null;
        var exitCode = 0;
        try
        {
            await using (var server = await ServerProcess.StartAsync(dataDirectory, secret, options))
            {
                Progress($"server pid {server.Id} listening at {server.BaseAddress}");
                using var client = LoadPhase.CreateClient(options.Connections);
                var nextId = PayloadTemplate.FirstId;
                foreach (var phase in options.Phases)
                {
                    // Pre-sign enough deliveries for the phase: the first from --max-rate, /events from
                    // the rate the bare endpoint reached (it cannot go faster than that).
                    var rate = results.Count > 0 ? results.Max(r => r.PerSecond) * 1.25 : options.MaxRate;
                    var count = (int)Math.Min(50_000_000, Math.Ceiling(rate * phaseSeconds) + 1000);
                    var signing = System.Diagnostics.Stopwatch.StartNew();
                    var pool = DeliveryPool.Create(template, key, nextId, count);
                    Progress($"{phase}: signed {count} deliveries in advance in {signing.Elapsed.TotalSeconds:0.0} s");
                    GC.Collect();
                    GC.WaitForPendingFinalizers();

                    var (name, path) = phase == "bare"
                        ? ("Baseline: signature check only", BenchServer.BarePath)
                        : ("Heaven intake: durable accept", "/events");
                    Progress($"{phase}: running {path}");
                    var result = await LoadPhase.RunAsync(
                        name,
                        client,
                        new Uri(server.BaseAddress, path),
                        template,
                        pool,
                        options.Connections,
                        warmup,
                        duration,
                        expectedStatus: 202,
                        server.CpuTime);
                    results.Add(result);
                    nextId = pool.NextFreeId;
                    Progress($"{phase}: {result.PerSecond:0} per second, p50 {result.P50Ms:0.00} ms, p99 {result.P99Ms:0.00} ms, {result.UnexpectedTotal} other answers");
                }

                // Killed, not stopped: only what was committed before the answers can be in the file.
                await server.KillAsync();
            }

            diskAfter = DiskProbe.Measure(root);
            if (options.Phases.Contains("events"))
            {
                (deploymentRows, deliveryRows, acceptedDeliveryRows) = await CountRowsAsync(Path.Combine(dataDirectory, DatabaseOptions.SqliteFileName));
            }
        }
        finally
        {
            if (options.KeepData)
            {
                Progress($"data kept in {dataDirectory}");
            }
            else
            {
                TryDelete(root);
            }
        }

        var events = results.FirstOrDefault(r => r.Path == "/events");
        var durable = events is null || (deploymentRows == events.Expected && acceptedDeliveryRows == events.Expected);
        if (!durable || results.Any(r => r.UnexpectedTotal > 0))
        {
            exitCode = 1;
        }

        var report = Report(options, started, template.Length, results, deploymentRows, deliveryRows, acceptedDeliveryRows, diskBefore, diskAfter, loadAtStart);
        Console.Out.Write(report);
        if (options.Output is not null)
        {
            await File.WriteAllTextAsync(options.Output, report);
        }

        return exitCode;
    }

    private static async Task<(long Deployments, long Deliveries, long Accepted)> CountRowsAsync(string databasePath)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Pooling = false }.ToString());
        await connection.OpenAsync();
        async Task<long> Scalar(string sql)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
        }

        return (
            await Scalar("SELECT COUNT(*) FROM deployments"),
            await Scalar("SELECT COUNT(*) FROM deliveries"),
            await Scalar("SELECT COUNT(*) FROM deliveries WHERE result = 'Accepted' AND deployment_id IS NOT NULL"));
    }

    private static string Report(
        BenchOptions options,
        DateTimeOffset started,
        int payloadBytes,
        IReadOnlyList<PhaseResult> results,
        long? deploymentRows,
        long? deliveryRows,
        long? acceptedDeliveryRows,
        DiskProbe.Result diskBefore,
        DiskProbe.Result? diskAfter,
        string loadAtStart)
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        void Line(string line = "") => text.Append(line).Append('\n');

        Line("## Intake: signed deployment webhooks");
        Line();
        Line($"- Command: `{Command}{(options.Given.Length > 0 ? " " + options.Given : "")}`");
        Line($"- Date: {started:yyyy-MM-dd HH:mm} UTC");
        Line($"- Machine: {string.Join("; ", MachineInfo.Describe().Select(m => $"{m.Name}: {m.Value}"))}");
        Line(string.Create(c, $"- Data directory disk, 16 KiB append + fsync (what each SQLite commit waits for): p50 {diskBefore.P50Ms:0.00} ms, p99 {diskBefore.P99Ms:0.00} ms before the run{(diskAfter is null ? "" : $"; p50 {diskAfter.P50Ms:0.00} ms, p99 {diskAfter.P99Ms:0.00} ms after")}. Load average (1, 5, 15 min) at the start: {loadAtStart}."));
        Line(string.Create(c, $"- Load: {options.Connections} connections, closed loop (each sends its next request when the answer is in); {payloadBytes:N0}-byte `deployment` bodies, every one a new deployment with its own `X-GitHub-Delivery` and `X-Hub-Signature-256`; {options.WarmupSeconds:0.#} s warm-up, then {options.DurationSeconds:0.#} s measured, per phase. The server runs in a child process (server GC), SQLite in a temporary data directory, server log level {options.ServerLogLevel}."));
        Line();
        Line("| Phase | Endpoint | Expected answers in window | Per second | p50 ms | p99 ms | max ms | Other answers (whole phase) | Server CPU per answer | Load-generator CPU per answer | Cores busy: server / load generator / other processes |");
        Line("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|");
        foreach (var r in results)
        {
            var other = r.UnexpectedTotal == 0 ? "0" : string.Join(", ", r.Unexpected.Select(u => $"{u.Value} × {u.Key}"));
            Line(string.Create(c, $"| {r.Name} | `POST {r.Path}` | {r.ExpectedInWindow:N0} × {r.ExpectedStatus} | {r.PerSecond:N0} | {r.P50Ms:0.00} | {r.P99Ms:0.00} | {r.MaxMs:0.0} | {other} | {PerAnswer(r.ServerCpuSeconds, r.ExpectedInWindow)} | {PerAnswer(r.ClientCpuSeconds, r.ExpectedInWindow)} | {r.ServerCpuSeconds / r.MeasuredSeconds:0.00} / {r.ClientCpuSeconds / r.MeasuredSeconds:0.00} / {(r.OtherCpuSeconds is { } o ? (Math.Max(0, o) / r.MeasuredSeconds).ToString("0.00", c) : "?")} |"));
        }

        var bare = results.FirstOrDefault(r => r.Path == BenchServer.BarePath);
        var events = results.FirstOrDefault(r => r.Path == "/events");
        if (events is not null)
        {
            Line();
            Line("| Check | Target | Measured | Met |");
            Line("|---|---|---|---|");
            if (bare is not null)
            {
                var ratio = events.PerSecond / bare.PerSecond;
                Line(string.Create(c, $"| Durable accepts vs. bare endpoint, same run | ≥ {TargetRatio:P0} | {ratio:P1} ({events.PerSecond:N0} / {bare.PerSecond:N0} per second) | {YesNo(ratio >= TargetRatio)} |"));
            }

            Line(string.Create(c, $"| p99 latency of `POST /events` | < {TargetP99Ms:0} ms | {events.P99Ms:0.00} ms | {YesNo(events.P99Ms < TargetP99Ms)} |"));
            Line(string.Create(c, $"| Every 202 from `/events` (warm-up included) is in the database after the server is killed (SIGKILL) | rows = 202s | {events.Expected:N0} answered 202; {deploymentRows:N0} deployment rows; {acceptedDeliveryRows:N0} accepted delivery rows ({deliveryRows:N0} in all) | {YesNo(deploymentRows == events.Expected && acceptedDeliveryRows == events.Expected)} |"));
        }

        var busiest = results.Where(r => r.OtherCpuSeconds is not null).Select(r => r.OtherCpuSeconds!.Value / r.MeasuredSeconds).DefaultIfEmpty(0).Max();
        if (busiest > 0.25)
        {
            Line();
            Line(string.Create(c, $"Warning: other processes kept {busiest:0.00} cores busy during a measured window; the numbers are pessimistic and the ratio is unreliable. Rerun on an idle machine."));
        }

        var inline = results.Sum(r => r.SignedInline);
        if (inline > 0)
        {
            Line();
            Line($"Note: {inline:N0} deliveries outran the pre-signed pool and were signed while sending (raise --max-rate).");
        }

        return text.ToString();
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static string PerAnswer(double cpuSeconds, long answers) =>
        answers == 0 ? "-" : string.Create(CultureInfo.InvariantCulture, $"{cpuSeconds / answers * 1e6:0} µs");

    private static string YesNo(bool met) => met ? "yes" : "**no**";

    private static void Progress(string message) => Console.Error.WriteLine($"[bench] {message}");

    private static void TryDelete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
