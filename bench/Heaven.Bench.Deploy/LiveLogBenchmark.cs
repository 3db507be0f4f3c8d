using System.Globalization;
using System.Text.Json;

namespace Heaven.Bench.Deploy;

/// <summary>
/// The live log: how long a printed line takes to reach viewers over Server-Sent Events (1 and 200 of
/// them), that viewers forced to reconnect lose and repeat nothing, and what 200 viewers cost a flood.
/// </summary>
internal static class LiveLogBenchmark
{
    private const int ManyViewers = 200;
    private const int Reconnecting = 20;

    /// <summary>Line and gap events the viewers of floods received, over all runs with viewers.</summary>
    private static long floodLines;
    private static long floodGaps;

    /// <summary>CPU time of the viewers' own process per flood with viewers, from the flood's webhook to its final status.</summary>
    private static readonly List<double> viewersCpu = [];

    public static async Task<Section> RunAsync(BenchSettings settings)
    {
        await using var server = await HeavenServer.StartAsync(settings.WorkDirectory, settings.GitHub.ApiUrl, settings.Settings(), settings.Verbose);
        var viewers = await LogViewers.SignedInAsync(server, CancellationToken.None);
        for (var i = 0; i < 5; i++)
        {
            Deployments.EnsureSucceeded([await Deployments.DeployAsync(server, settings.GitHub, settings.Repository, "noop", "production")]);
        }

        var one = await LatencyAsync(settings, server, viewers, 1, 0);
        var many = await LatencyAsync(settings, server, viewers, ManyViewers, Reconnecting);

        var without = new List<double>();
        var with = new List<double>();
        var cpuWithout = new List<double>();
        var cpuWith = new List<double>();
        var systemWithout = new List<double>();
        var systemWith = new List<double>();
        for (var i = 0; i < Math.Max(1, settings.FloodRuns - 1); i++)
        {
            without.Add(await FloodAsync(settings, server, viewers, 0, cpuWithout, systemWithout));
            with.Add(await FloodAsync(settings, server, viewers, ManyViewers, cpuWith, systemWith));
        }

        var withoutRate = Stats.Median(without);
        var withRate = Stats.Median(with);
        var cost = 1 - (withRate / withoutRate);
        var lines = new List<string>
        {
            $"`script/livelog` prints `livelog <i> <date +%s%N>` every 50 ms, {BenchRepository.LiveLogLines} lines; viewers connect right after the 202 " +
            "and follow `GET /api/v1/deployments/{id}/log` with `Accept: text/event-stream`; latency = arrival at the viewer (after parsing the event) − the time in the line, " +
            "for the lines printed after the viewer's stream opened (lines printed while it was still connecting are history to it and are counted apart). " +
            $"With {ManyViewers} viewers, {Reconnecting} of them drop the connection after line 150 and resume with `Last-Event-ID`. " +
            $"Throughput: `script/paused-flood` ({Stats.MB(BenchRepository.FloodBytes)} after a {BenchRepository.FloodPause.TotalSeconds:0} s pause, which is left out of the rate) alone and with {ManyViewers} viewers attached from the 202 on, alternately, {without.Count} of each; viewers stop when the final status arrives. " +
            "The flood's viewers run in a process of their own at `nice -n 19`, standing in for browsers on other machines (in the benchmark's process they took the deploy's CPU on this 2-core machine), on one processor's worth of threads that never spin, and count the events from the bytes; " +
            "the server's own CPU time per flood (its threads, not the deploy's processes) shows what the viewers cost Heaven.",
            "",
            "| measure | value | target | |",
            "|---|---:|---:|---|",
            $"| print → viewer, 1 viewer, p50 / p99 / max | {Stats.Ms(Stats.Median(one.Latencies))} / {Stats.Ms(Stats.Percentile(one.Latencies, 99))} / {Stats.Ms(one.Latencies.Max())} | p99 < 250 ms | {Stats.Met(Stats.Percentile(one.Latencies, 99) < 250)} |",
            $"| print → viewer, {ManyViewers} viewers, p50 / p99 / max | {Stats.Ms(Stats.Median(many.Latencies))} / {Stats.Ms(Stats.Percentile(many.Latencies, 99))} / {Stats.Ms(many.Latencies.Max())} | p99 < 250 ms | {Stats.Met(Stats.Percentile(many.Latencies, 99) < 250)} |",
            $"| lines printed while a viewer was connecting (read as history, left out above), {ManyViewers} viewers: count, print → viewer p50 / p99 | {many.CatchUp.Count:N0}, {CatchUp(many)} | | |",
            $"| viewers that got every line exactly once (incl. {Reconnecting} reconnected) | {one.Exact + many.Exact} of {1 + ManyViewers}{many.Problem} | all | {Stats.Met(one.Exact + many.Exact == 1 + ManyViewers)} |",
            $"| flood throughput without viewers / with {ManyViewers} (median) | {Stats.Rate(withoutRate)} / {Stats.Rate(withRate)}: {cost.ToString("P1", CultureInfo.InvariantCulture)} lower | ≤ 10 % lower | {Stats.Met(cost <= 0.10)} |",
            $"| server CPU per flood without viewers / with {ManyViewers} (median) | {Stats.Median(cpuWithout):F2} s / {Stats.Median(cpuWith):F2} s: {((Stats.Median(cpuWith) / Stats.Median(cpuWithout)) - 1).ToString("P1", CultureInfo.InvariantCulture)} more | (explains the row above) | |",
            $"| of which in the kernel (system time), without viewers / with {ManyViewers} (median) | {Stats.Median(systemWithout):F2} s / {Stats.Median(systemWith):F2} s | | |",
            $"| the viewers' own process (reading and counting every event), CPU per flood (median) | {Stats.Median(viewersCpu):F2} s | | |",
            "",
            $"Flood runs without viewers: {string.Join(", ", without.Select(Stats.Rate))}; with {ManyViewers} viewers: {string.Join(", ", with.Select(Stats.Rate))}. " +
            $"Server CPU per flood without viewers: {string.Join(", ", cpuWithout.Select(c => c.ToString("F2", CultureInfo.InvariantCulture) + " s"))}; with: {string.Join(", ", cpuWith.Select(c => c.ToString("F2", CultureInfo.InvariantCulture) + " s"))}. " +
            $"A viewer of a flood received on average {(double)floodLines / (ManyViewers * with.Count):F0} line events and {(double)floodGaps / (ManyViewers * with.Count):F1} gap events (lines left out, named exactly) of the flood's {BenchRepository.FloodLines:N0} lines.",
        };
        return new Section("Live log", lines);
    }

    /// <summary>p50 / p99 of the lines printed while viewers were connecting, or a dash when there were none.</summary>
    internal static string CatchUp(LatencyRun run) =>
        run.CatchUp.Count == 0 ? "—" : $"{Stats.Ms(Stats.Median(run.CatchUp))} / {Stats.Ms(Stats.Percentile(run.CatchUp, 99))}";

    /// <summary>
    /// Sends <c>script/livelog</c> to <paramref name="server"/> and follows it with <paramref name="count"/>
    /// viewers (on whichever node <paramref name="viewers"/> talks to): print → arrival of each line, and
    /// how many viewers got every line exactly once.
    /// </summary>
    internal static async Task<LatencyRun> LatencyAsync(BenchSettings settings, HeavenServer server, LogViewers viewers, int count, int reconnecting)
    {
        var (gitHubId, heavenId, sent, accepted) = await SendAsync(server, settings.Repository, "livelog");
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var latencies = new List<double>();
        var catchUp = new List<double>();
        var seen = new List<long>[count];
        var tasks = new Task<bool>[count];
        for (var v = 0; v < count; v++)
        {
            var mine = seen[v] = [];
            // When this viewer's stream (or its resumed one) opened: a line printed before it is history to
            // that viewer, read when it connects, and counted apart from the lines it follows live.
            var connectedAt = long.MaxValue;
            tasks[v] = Task.Run(() => viewers.FollowAsync(heavenId, (number, data) =>
            {
                var arrived = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
                mine.Add(number);
                var text = LogViewers.Text(data);
                if (text.StartsWith("livelog ", StringComparison.Ordinal))
                {
                    var printed = long.Parse(text.Split(' ')[2], CultureInfo.InvariantCulture);
                    var into = printed >= Volatile.Read(ref connectedAt) ? latencies : catchUp;
                    lock (into)
                    {
                        into.Add((arrived - printed) / 1e6);
                    }
                }
            }, v < reconnecting ? 150 : null, stop.Token, () => Volatile.Write(ref connectedAt, (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100)));
        }

        var ended = await Task.WhenAll(tasks);
        Deployments.EnsureSucceeded([await Deployments.WaitAsync(settings.GitHub, gitHubId, sent, accepted, TimeSpan.FromMinutes(1))]);
        var exact = 0;
        string problem = "";
        for (var v = 0; v < count; v++)
        {
            var numbers = seen[v];
            if (ended[v] && numbers.Count > BenchRepository.LiveLogLines && numbers.SequenceEqual(Enumerable.Range(0, numbers.Count).Select(i => (long)i)))
            {
                exact++;
            }
            else if (problem.Length == 0)
            {
                problem = $" (viewer {v}: ended {ended[v]}, {numbers.Count} lines, first gap or repeat after {numbers.Zip(numbers.Skip(1)).FirstOrDefault(p => p.Second != p.First + 1).First})";
            }
        }

        return new LatencyRun(latencies, catchUp, exact, problem);
    }

    private static async Task<double> FloodAsync(BenchSettings settings, HeavenServer server, LogViewers viewers, int count, List<double> serverCpu, List<double> serverSystem)
    {
        var watching = count > 0 ? await FloodViewers.StartAsync(viewers.BaseAddress, viewers.Token, count) : null;
        var (userBefore, systemBefore) = CpuSeconds(server.ProcessId);
        var (viewersUserBefore, viewersSystemBefore) = watching is null ? (0, 0) : CpuSeconds(watching.ProcessId);
        var (gitHubId, heavenId, sent, accepted) = await SendAsync(server, settings.Repository, "paused-flood");
        if (watching is not null)
        {
            await watching.FollowAsync(heavenId);
        }

        var run = await Deployments.WaitAsync(settings.GitHub, gitHubId, sent, accepted, TimeSpan.FromMinutes(5));
        if (watching is not null)
        {
            var (viewersUser, viewersSystem) = CpuSeconds(watching.ProcessId);
            viewersCpu.Add(viewersUser + viewersSystem - viewersUserBefore - viewersSystemBefore);
            await watching.DisposeAsync();
            Interlocked.Add(ref floodLines, watching.Lines);
            Interlocked.Add(ref floodGaps, watching.Gaps);
        }

        var (userAfter, systemAfter) = CpuSeconds(server.ProcessId);
        serverCpu.Add(userAfter + systemAfter - userBefore - systemBefore);
        serverSystem.Add(systemAfter - systemBefore);
        Deployments.EnsureSucceeded([run]);
        await Task.Delay(1000);
        // The pause before the flood is no part of it.
        return BenchRepository.FloodBytes / ((run.InProgressToFinalMs - BenchRepository.FloodPause.TotalMilliseconds) / 1000);
    }

    /// <summary>The CPU time a process has used in user code and in the kernel (its own threads only: not the deploy's processes), from /proc.</summary>
    private static (double User, double System) CpuSeconds(int processId)
    {
        var stat = File.ReadAllText($"/proc/{processId}/stat");
        // The fields after the command name (which may hold spaces), from the state (field 3) on: utime and stime are fields 14 and 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (double.Parse(fields[11], CultureInfo.InvariantCulture) / 100.0, double.Parse(fields[12], CultureInfo.InvariantCulture) / 100.0);
    }

    private static async Task<(long GitHubId, long HeavenId, DateTimeOffset Sent, DateTimeOffset Accepted)> SendAsync(HeavenServer server, BenchRepository repository, string script)
    {
        var (body, gitHubId) = repository.Webhook(script, "production");
        var sent = DateTimeOffset.UtcNow;
        using var response = await server.SendDeploymentAsync(body);
        var accepted = DateTimeOffset.UtcNow;
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (gitHubId, answer.RootElement.GetProperty("deployment").GetInt64(), sent, accepted);
    }
}

/// <summary>
/// Print → arrival of the lines viewers followed live (printed after their stream opened), and apart
/// from them of the lines printed while a viewer was still connecting (or reconnecting), which it read
/// as history; how many viewers got every line exactly once.
/// </summary>
internal sealed record LatencyRun(List<double> Latencies, List<double> CatchUp, int Exact, string Problem);
