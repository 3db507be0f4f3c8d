using System.Diagnostics;
using System.Net;

namespace Heaven.Bench;

/// <summary>What one phase measured.</summary>
internal sealed record PhaseResult(
    string Name,
    string Path,
    int ExpectedStatus,
    double MeasuredSeconds,
    long Expected,
    long ExpectedInWindow,
    long UnexpectedInWindow,
    double P50Ms,
    double P99Ms,
    double MaxMs,
    IReadOnlyDictionary<string, long> Unexpected,
    long SignedInline,
    double ServerCpuSeconds,
    double ClientCpuSeconds,
    double? MachineCpuSeconds)
{
    /// <summary>CPU time of every other process on the machine in the window (other work competing for the cores).</summary>
    public double? OtherCpuSeconds => MachineCpuSeconds - ServerCpuSeconds - ClientCpuSeconds;

    public double PerSecond => ExpectedInWindow / MeasuredSeconds;

    public long UnexpectedTotal => Unexpected.Values.Sum();
}

/// <summary>
/// A closed-loop load: <c>connections</c> workers, each sending one request at a time on its own
/// connection, for a warm-up and then a measured window. Only answers with the expected status count
/// towards the rate; every other answer (or failure) is reported by kind.
/// </summary>
internal static class LoadPhase
{
    public static HttpClient CreateClient(int connections)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.ExpectContinue = false;
        client.DefaultRequestHeaders.TryAddWithoutValidation("User-Agent", "GitHub-Hookshot/heaven-bench");
        client.DefaultRequestHeaders.TryAddWithoutValidation("X-GitHub-Event", "deployment");
        return client;
    }

    public static async Task<PhaseResult> RunAsync(
        string name,
        HttpClient client,
        Uri url,
        PayloadTemplate template,
        DeliveryPool pool,
        int connections,
        TimeSpan warmup,
        TimeSpan duration,
        int expectedStatus,
        Func<TimeSpan> serverCpu)
    {
        var begin = Stopwatch.GetTimestamp();
        var measureStart = begin + Ticks(warmup);
        var measureEnd = measureStart + Ticks(duration);

        var cpu = SampleCpuAsync(measureStart, measureEnd, serverCpu);
        var workers = Enumerable.Range(0, connections)
            .Select(_ => Task.Run(() => WorkAsync(client, url, template, pool, measureStart, measureEnd, expectedStatus)))
            .ToArray();
        var stats = await Task.WhenAll(workers);
        var (serverSeconds, clientSeconds, machineSeconds) = await cpu;

        var latencies = new List<long>(stats.Sum(s => s.Latencies.Count));
        foreach (var s in stats)
        {
            latencies.AddRange(s.Latencies);
        }

        latencies.Sort();
        var unexpected = new Dictionary<string, long>();
        foreach (var (kind, count) in stats.SelectMany(s => s.Unexpected))
        {
            unexpected[kind] = unexpected.GetValueOrDefault(kind) + count;
        }

        return new PhaseResult(
            name,
            url.AbsolutePath,
            expectedStatus,
            duration.TotalSeconds,
            stats.Sum(s => s.Expected),
            stats.Sum(s => s.ExpectedInWindow),
            stats.Sum(s => s.UnexpectedInWindow),
            Percentile(latencies, 0.50),
            Percentile(latencies, 0.99),
            latencies.Count == 0 ? double.NaN : Milliseconds(latencies[^1]),
            unexpected,
            pool.SignedInline,
            serverSeconds,
            clientSeconds,
            machineSeconds);
    }

    private sealed class WorkerStats
    {
        /// <summary>Latency (Stopwatch ticks) of every answer received inside the measured window.</summary>
        public List<long> Latencies { get; } = new(64 * 1024);

        public long Expected { get; set; }

        public long ExpectedInWindow { get; set; }

        public long UnexpectedInWindow { get; set; }

        public Dictionary<string, long> Unexpected { get; } = [];
    }

    private static async Task<WorkerStats> WorkAsync(
        HttpClient client,
        Uri url,
        PayloadTemplate template,
        DeliveryPool pool,
        long measureStart,
        long measureEnd,
        int expectedStatus)
    {
        var stats = new WorkerStats();
        // One body buffer per worker: a worker has one request in flight, and both endpoints read the
        // whole body before they answer, so the buffer is free again when the answer is in.
        var body = template.NewBuffer();
        while (Stopwatch.GetTimestamp() < measureEnd)
        {
            var delivery = pool.Next(body);
            template.Write(body, delivery.DeploymentId);
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            request.Headers.TryAddWithoutValidation("X-GitHub-Delivery", delivery.DeliveryId);
            request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", delivery.Signature);

            string? outcome;
            var sent = Stopwatch.GetTimestamp();
            try
            {
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
                var status = (int)response.StatusCode;
                outcome = status == expectedStatus ? null : $"HTTP {status}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                outcome = e.GetType().Name;
            }

            var answered = Stopwatch.GetTimestamp();
            var inWindow = answered >= measureStart && answered < measureEnd;
            if (outcome is null)
            {
                stats.Expected++;
                if (inWindow)
                {
                    stats.ExpectedInWindow++;
                }
            }
            else
            {
                stats.Unexpected[outcome] = stats.Unexpected.GetValueOrDefault(outcome) + 1;
                if (inWindow)
                {
                    stats.UnexpectedInWindow++;
                }
            }

            if (inWindow)
            {
                stats.Latencies.Add(answered - sent);
            }
        }

        return stats;
    }

    /// <summary>CPU time the server process, this process and the whole machine used inside the measured window.</summary>
    private static async Task<(double Server, double Client, double? Machine)> SampleCpuAsync(long measureStart, long measureEnd, Func<TimeSpan> serverCpu)
    {
        await DelayUntil(measureStart);
        var server0 = serverCpu();
        var client0 = ClientCpu();
        var machine0 = MachineBusyCpu();
        await DelayUntil(measureEnd);
        return ((serverCpu() - server0).TotalSeconds, (ClientCpu() - client0).TotalSeconds, MachineBusyCpu() - machine0);
    }

    /// <summary>Busy CPU seconds of the whole machine since boot (Linux <c>/proc/stat</c>); null elsewhere.</summary>
    private static double? MachineBusyCpu()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields[0] != "cpu")
            {
                return null;
            }

            // user nice system idle iowait irq softirq steal ...; guest time is already counted in user.
            var ticks = fields.Skip(1).Take(8).Select(long.Parse).ToArray();
            var busy = ticks.Sum() - ticks[3] - ticks[4];
            return busy / 100.0; // USER_HZ
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    private static TimeSpan ClientCpu()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    private static async Task DelayUntil(long timestamp)
    {
        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), timestamp);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private static double Milliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    private static double Percentile(List<long> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : Milliseconds(sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)]);
}
