using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Heaven.Bench;

/// <summary>
/// Intake under senders without the secret that try to make Heaven hold memory: connections that
/// announce <c>Content-Length: 24 MB</c> and then send slowly (above and below the minimum data rate),
/// or send their bodies as fast as they can. Meanwhile a signed deployment is sent every half second,
/// and the server's resident memory is sampled.
/// </summary>
internal static class SlowBodiesBenchmark
{
    public const string Command = "dotnet run -c Release --project bench/Heaven.Bench -- slow-bodies";

    private const int AnnouncedBytes = 24 * 1024 * 1024;
    private const double TargetGrowthMb = 100;
    private const double TargetSignedMs = 1000;

    private sealed record Phase(string Name, string Description, int BytesPerTick, bool Flood);

    private sealed record PhaseResult(
        Phase Phase,
        double BaselineMb,
        double PeakMb,
        int SignedSent,
        int SignedAccepted,
        IReadOnlyDictionary<string, int> SignedOther,
        double SignedP50Ms,
        double SignedMaxMs,
        IReadOnlyDictionary<string, int> SlowAnswers,
        double? MedianCutOffSeconds,
        int StillOpen)
    {
        public double GrowthMb => PeakMb - BaselineMb;
    }

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var connections = options.ConnectionsGiven ? options.Connections : 40;
        var duration = TimeSpan.FromSeconds(options.DurationSeconds);
        var started = DateTimeOffset.UtcNow;
        var template = PayloadTemplate.Load();
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var key = Encoding.UTF8.GetBytes(secret);
        var root = Path.Combine(Path.GetTempPath(), "heaven-bench", Guid.NewGuid().ToString("N"));
        var dataDirectory = Path.Combine(root, "data");
        Directory.CreateDirectory(root);

        // 250 ms ticks: 512 bytes a tick is 2 KB/s (above Heaven's default minimum of 1 KB/s), 32 bytes is 128 B/s (below).
        Phase[] phases =
        [
            new("Trickle above the minimum rate", $"{connections} connections announce 24 MB and send 2 KB/s each for the whole phase", 512, false),
            new("Trickle below the minimum rate", $"{connections} connections announce 24 MB and send 128 B/s each", 32, false),
            new("Flood", $"{connections} connections send unsigned 24 MB bodies as fast as they can, reconnecting after each answer", 0, true),
        ];

        var results = new List<PhaseResult>();
        var exitCode = 0;
        try
        {
            await using var server = await ServerProcess.StartAsync(dataDirectory, secret, options);
            Progress($"server pid {server.Id} listening at {server.BaseAddress}");
            using var client = LoadPhase.CreateClient(4);
            var nextId = PayloadTemplate.FirstId;

            // Warm-up: JIT, database, connection pool.
            for (var i = 0; i < 50; i++)
            {
                await SendSignedAsync(client, server.BaseAddress, template, key, nextId++);
            }

            foreach (var phase in phases)
            {
                Progress($"{phase.Name}: {phase.Description}, {duration.TotalSeconds:0} s");
                var (result, usedIds) = await RunPhaseAsync(phase, server, client, template, key, nextId, connections, duration);
                nextId += usedIds;
                results.Add(result);
                Progress(string.Create(CultureInfo.InvariantCulture, $"{phase.Name}: memory {result.BaselineMb:0} MB -> peak {result.PeakMb:0} MB (+{result.GrowthMb:0} MB); signed {result.SignedAccepted}/{result.SignedSent} accepted, max {result.SignedMaxMs:0} ms"));

                // Let the server settle (answers, closes, GC) before the next phase's baseline.
                await Task.Delay(TimeSpan.FromSeconds(3));
            }
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        var trickle = results[0];
        if (trickle.GrowthMb > TargetGrowthMb || trickle.SignedAccepted != trickle.SignedSent || trickle.SignedMaxMs > TargetSignedMs)
        {
            exitCode = 1;
        }

        var report = Report(connections, duration, started, results);
        Console.Out.Write(report);
        if (options.Output is not null)
        {
            await File.WriteAllTextAsync(options.Output, report);
        }

        return exitCode;
    }

    private static async Task<(PhaseResult Result, int UsedIds)> RunPhaseAsync(
        Phase phase, ServerProcess server, HttpClient client, PayloadTemplate template, byte[] key, long firstId, int connections, TimeSpan duration)
    {
        var baseline = ResidentMb(server.Id);
        using var stop = new CancellationTokenSource(duration);
        var peak = baseline;
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, ResidentMb(server.Id));
                try
                {
                    await Task.Delay(50, stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });

        var begin = Stopwatch.GetTimestamp();
        var senders = Enumerable.Range(0, connections)
            .Select(_ => Task.Run(() => phase.Flood ? FloodAsync(server.BaseAddress, stop.Token) : TrickleAsync(server.BaseAddress, phase.BytesPerTick, begin, stop.Token)))
            .ToArray();

        // Give the senders a moment to connect and announce, then send signed deployments twice a second.
        await Task.Delay(TimeSpan.FromSeconds(1));
        var latencies = new List<double>();
        var other = new Dictionary<string, int>();
        var id = firstId;
        while (!stop.IsCancellationRequested)
        {
            var watch = Stopwatch.StartNew();
            var status = await SendSignedAsync(client, server.BaseAddress, template, key, id++);
            latencies.Add(watch.Elapsed.TotalMilliseconds);
            if (status != "202")
            {
                other[status] = other.GetValueOrDefault(status) + 1;
            }

            try
            {
                await Task.Delay(500, stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        var outcomes = await Task.WhenAll(senders);
        await sampler;
        latencies.Sort();
        var answers = new Dictionary<string, int>();
        foreach (var outcome in outcomes)
        {
            foreach (var (status, count) in outcome.Answers)
            {
                answers[status] = answers.GetValueOrDefault(status) + count;
            }
        }

        var cutOffs = outcomes.Where(o => o.CutOffSeconds is not null).Select(o => o.CutOffSeconds!.Value).Order().ToList();
        var result = new PhaseResult(
            phase,
            baseline,
            peak,
            latencies.Count,
            latencies.Count - other.Values.Sum(),
            other,
            latencies.Count == 0 ? double.NaN : latencies[latencies.Count / 2],
            latencies.Count == 0 ? double.NaN : latencies[^1],
            answers,
            cutOffs.Count == 0 ? null : cutOffs[cutOffs.Count / 2],
            outcomes.Count(o => o.CutOffSeconds is null && !phase.Flood));
        return (result, (int)(id - firstId));
    }

    private sealed record SenderOutcome(Dictionary<string, int> Answers, double? CutOffSeconds);

    /// <summary>One connection: announce 24 MB, then <paramref name="bytesPerTick"/> every 250 ms until the phase ends or the server answers.</summary>
    private static async Task<SenderOutcome> TrickleAsync(Uri server, int bytesPerTick, long begin, CancellationToken stop)
    {
        var answers = new Dictionary<string, int>();
        using var socket = new TcpClient { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, server.Port, stop);
        var stream = socket.GetStream();
        await stream.WriteAsync(Head(server), stop);
        var answer = ReadStatusAsync(stream);
        var chunk = new byte[bytesPerTick];
        chunk.AsSpan().Fill((byte)'a');
        try
        {
            while (!stop.IsCancellationRequested && !answer.IsCompleted)
            {
                await stream.WriteAsync(chunk, stop);
                await Task.WhenAny(answer, Task.Delay(250, stop));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
        {
            // The phase ended, or the server closed the connection.
        }

        if (answer.IsCompleted)
        {
            var status = await answer;
            answers[status] = 1;
            return new SenderOutcome(answers, Stopwatch.GetElapsedTime(begin).TotalSeconds);
        }

        return new SenderOutcome(answers, null);
    }

    /// <summary>One sender: whole unsigned bodies as fast as the connection takes them, a new connection after each answer.</summary>
    private static async Task<SenderOutcome> FloodAsync(Uri server, CancellationToken stop)
    {
        var answers = new Dictionary<string, int>();
        var block = new byte[64 * 1024];
        block.AsSpan().Fill((byte)'a');
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var socket = new TcpClient { NoDelay = true };
                await socket.ConnectAsync(IPAddress.Loopback, server.Port, stop);
                var stream = socket.GetStream();
                await stream.WriteAsync(Head(server), stop);
                var answer = ReadStatusAsync(stream);
                var sent = 0;
                try
                {
                    while (sent < AnnouncedBytes && !answer.IsCompleted)
                    {
                        var size = Math.Min(block.Length, AnnouncedBytes - sent);
                        await stream.WriteAsync(block.AsMemory(0, size), stop);
                        sent += size;
                    }
                }
                catch (IOException)
                {
                    // Answered and closed while we were still sending: the answer is read below.
                }

                var status = await answer.WaitAsync(stop);
                answers[status] = answers.GetValueOrDefault(status) + 1;
                if (status == "503")
                {
                    // What a sender told to retry later does at the quickest; keeps this generator from spinning.
                    await Task.Delay(50, stop);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException)
            {
                if (!stop.IsCancellationRequested && e is not OperationCanceledException)
                {
                    answers["connection error"] = answers.GetValueOrDefault("connection error") + 1;
                }
            }
        }

        return new SenderOutcome(answers, null);
    }

    private static byte[] Head(Uri server) => Encoding.ASCII.GetBytes(
        $"POST /events HTTP/1.1\r\nHost: 127.0.0.1:{server.Port}\r\nContent-Type: application/json\r\nContent-Length: {AnnouncedBytes}\r\n"
        + $"X-GitHub-Event: deployment\r\nX-GitHub-Delivery: {Guid.NewGuid()}\r\nX-Hub-Signature-256: sha256={new string('0', 64)}\r\n\r\n");

    /// <summary>The status code of the first answer on the connection, or "closed" when it closes without one.</summary>
    private static async Task<string> ReadStatusAsync(NetworkStream stream)
    {
        var buffer = new byte[4096];
        try
        {
            var read = await stream.ReadAsync(buffer);
            if (read == 0)
            {
                return "closed";
            }

            var line = Encoding.ASCII.GetString(buffer, 0, read).Split("\r\n")[0];
            return line.Split(' ') is [_, var code, ..] ? code : "garbled";
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return "closed";
        }
    }

    private static async Task<string> SendSignedAsync(HttpClient client, Uri server, PayloadTemplate template, byte[] key, long deploymentId)
    {
        var body = Encoding.UTF8.GetBytes(template.Text(deploymentId));
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "/events")) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.Add("X-GitHub-Delivery", Guid.NewGuid().ToString());
        request.Headers.Add("X-Hub-Signature-256", PayloadTemplate.SignatureHeader(HMACSHA256.HashData(key, body)));
        try
        {
            using var response = await client.SendAsync(request);
            return ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
        }
        catch (HttpRequestException e)
        {
            return $"error ({e.HttpRequestError})";
        }
    }

    /// <summary>The process's resident set (VmRSS), in MB.</summary>
    private static double ResidentMb(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
            }
        }

        return double.NaN;
    }

    private static string Report(int connections, TimeSpan duration, DateTimeOffset started, IReadOnlyList<PhaseResult> results)
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        void Line(string line = "") => text.Append(line).Append('\n');
        string Counts(IReadOnlyDictionary<string, int> counts) =>
            counts.Count == 0 ? "none" : string.Join(", ", counts.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Value} × {k.Key}"));

        Line("## Intake: bodies that announce 24 MB and arrive slowly");
        Line();
        Line($"- Command: `{Command}`");
        Line($"- Date: {started:yyyy-MM-dd HH:mm} UTC");
        Line($"- Machine: {string.Join("; ", MachineInfo.Describe().Select(m => $"{m.Name}: {m.Value}"))}");
        Line(string.Create(c, $"- Load: {connections} connections without the secret per phase, {duration.TotalSeconds:0} s per phase; a signed 8 KB `deployment` every 0.5 s on its own connection. Server settings: the defaults (Webhooks:MaxPendingBodyBytes 64 MB, MinBodyBytesPerSecond 1024 after 5 s, BodyTimeout 30 s). Memory: the server's VmRSS sampled every 50 ms; growth is the peak minus the value at the phase's start."));
        Line();
        Line("| Phase | Server memory at start | Peak | Growth | Signed deployments answered 202 | Their p50 / max | Answers to the slow senders | Median time to cut-off | Still connected at the end |");
        Line("|---|---:|---:|---:|---|---:|---|---:|---:|");
        foreach (var r in results)
        {
            var signed = r.SignedAccepted == r.SignedSent ? $"{r.SignedAccepted} of {r.SignedSent}" : $"{r.SignedAccepted} of {r.SignedSent} (other: {Counts(r.SignedOther)})";
            var cutOff = r.MedianCutOffSeconds is { } s ? string.Create(c, $"{s:0.0} s") : "-";
            var open = r.Phase.Flood ? "-" : r.StillOpen.ToString(c);
            Line(string.Create(c, $"| {r.Phase.Name}: {r.Phase.Description} | {r.BaselineMb:0} MB | {r.PeakMb:0} MB | {r.GrowthMb:0} MB | {signed} | {r.SignedP50Ms:0.0} / {r.SignedMaxMs:0.0} ms | {Counts(r.SlowAnswers)} | {cutOff} | {open} |"));
        }

        var trickle = results[0];
        Line();
        Line("| Check | Target | Measured | Met |");
        Line("|---|---|---|---|");
        Line(string.Create(c, $"| Server memory growth while {connections} connections trickle 24 MB bodies | ≤ {TargetGrowthMb:0} MB | {trickle.GrowthMb:0} MB | {YesNo(trickle.GrowthMb <= TargetGrowthMb)} |"));
        Line(string.Create(c, $"| A signed deployment sent meanwhile is answered 202 | within {TargetSignedMs / 1000:0} s | {trickle.SignedAccepted} of {trickle.SignedSent} answered 202, slowest {trickle.SignedMaxMs:0.0} ms | {YesNo(trickle.SignedAccepted == trickle.SignedSent && trickle.SignedMaxMs <= TargetSignedMs)} |"));
        return text.ToString();
    }

    private static string YesNo(bool met) => met ? "yes" : "**no**";

    private static void Progress(string message) => Console.Error.WriteLine($"[bench] {message}");
}
