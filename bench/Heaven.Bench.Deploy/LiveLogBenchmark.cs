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
        for (var i = 0; i < Math.Max(1, settings.FloodRuns - 1); i++)
        {
            without.Add(await FloodAsync(settings, server, viewers, 0));
            with.Add(await FloodAsync(settings, server, viewers, ManyViewers));
        }

        var withoutRate = Stats.Median(without);
        var withRate = Stats.Median(with);
        var cost = 1 - (withRate / withoutRate);
        var lines = new List<string>
        {
            $"`script/livelog` prints `livelog <i> <date +%s%N>` every 50 ms, {BenchRepository.LiveLogLines} lines; viewers connect right after the 202 " +
            "and follow `GET /api/v1/deployments/{id}/log` with `Accept: text/event-stream`; latency = arrival at the viewer (after parsing the event) − the time in the line. " +
            $"With {ManyViewers} viewers, {Reconnecting} of them drop the connection after line 150 and resume with `Last-Event-ID`. " +
            $"Throughput: `script/flood` ({Stats.MB(BenchRepository.FloodBytes)}) alone and with {ManyViewers} viewers attached from the 202 on, alternately, {without.Count} of each; viewers stop when the final status arrives.",
            "",
            "| measure | value | target | |",
            "|---|---:|---:|---|",
            $"| print → viewer, 1 viewer, p50 / p99 / max | {Stats.Ms(Stats.Median(one.Latencies))} / {Stats.Ms(Stats.Percentile(one.Latencies, 99))} / {Stats.Ms(one.Latencies.Max())} | p99 < 250 ms | {Stats.Met(Stats.Percentile(one.Latencies, 99) < 250)} |",
            $"| print → viewer, {ManyViewers} viewers, p50 / p99 / max | {Stats.Ms(Stats.Median(many.Latencies))} / {Stats.Ms(Stats.Percentile(many.Latencies, 99))} / {Stats.Ms(many.Latencies.Max())} | p99 < 250 ms | {Stats.Met(Stats.Percentile(many.Latencies, 99) < 250)} |",
            $"| viewers that got every line exactly once (incl. {Reconnecting} reconnected) | {one.Exact + many.Exact} of {1 + ManyViewers}{many.Problem} | all | {Stats.Met(one.Exact + many.Exact == 1 + ManyViewers)} |",
            $"| flood throughput without viewers / with {ManyViewers} (median) | {Stats.Rate(withoutRate)} / {Stats.Rate(withRate)}: {cost.ToString("P1", CultureInfo.InvariantCulture)} lower | ≤ 10 % lower | {Stats.Met(cost <= 0.10)} |",
            "",
            $"Flood runs without viewers: {string.Join(", ", without.Select(Stats.Rate))}; with {ManyViewers} viewers: {string.Join(", ", with.Select(Stats.Rate))}. " +
            $"A viewer of a flood received on average {(double)floodLines / (ManyViewers * with.Count):F0} line events and {(double)floodGaps / (ManyViewers * with.Count):F1} gap events (lines left out, named exactly) of the flood's {BenchRepository.FloodLines:N0} lines.",
        };
        return new Section("Live log", lines);
    }

    private static async Task<(List<double> Latencies, int Exact, string Problem)> LatencyAsync(BenchSettings settings, HeavenServer server, LogViewers viewers, int count, int reconnecting)
    {
        var (gitHubId, heavenId, sent, accepted) = await SendAsync(server, settings.Repository, "livelog");
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var latencies = new List<double>();
        var seen = new List<long>[count];
        var tasks = new Task<bool>[count];
        for (var v = 0; v < count; v++)
        {
            var mine = seen[v] = [];
            tasks[v] = Task.Run(() => viewers.FollowAsync(heavenId, (number, data) =>
            {
                var arrived = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
                mine.Add(number);
                var text = LogViewers.Text(data);
                if (text.StartsWith("livelog ", StringComparison.Ordinal))
                {
                    var printed = long.Parse(text.Split(' ')[2], CultureInfo.InvariantCulture);
                    lock (latencies)
                    {
                        latencies.Add((arrived - printed) / 1e6);
                    }
                }
            }, v < reconnecting ? 150 : null, stop.Token));
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

        return (latencies, exact, problem);
    }

    private static async Task<double> FloodAsync(BenchSettings settings, HeavenServer server, LogViewers viewers, int count)
    {
        var (gitHubId, heavenId, sent, accepted) = await SendAsync(server, settings.Repository, "flood");
        using var stop = new CancellationTokenSource();
        var tasks = Enumerable.Range(0, count).Select(_ => Task.Run(async () =>
        {
            try
            {
                await viewers.FollowAsync(heavenId, (number, _) =>
                {
                    if (number < 0)
                    {
                        Interlocked.Increment(ref floodGaps);
                    }
                    else
                    {
                        Interlocked.Increment(ref floodLines);
                    }
                }, null, stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or HttpRequestException or IOException)
            {
            }
        })).ToList();
        var run = await Deployments.WaitAsync(settings.GitHub, gitHubId, sent, accepted, TimeSpan.FromMinutes(5));
        await stop.CancelAsync();
        await Task.WhenAll(tasks);
        Deployments.EnsureSucceeded([run]);
        await Task.Delay(1000);
        return BenchRepository.FloodBytes / (run.InProgressToFinalMs / 1000);
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
