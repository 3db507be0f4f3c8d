using System.Diagnostics;
using System.Globalization;
using System.Text;
using Heaven.Hosting;
using Heaven.Intake;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Bench;

/// <summary>
/// A diagnostic, not the benchmark of record: <see cref="IDeliveryRecorder"/> alone, in this process,
/// with no HTTP, parsing or signature in front of it: <c>connections</c> callers each recording one new
/// deployment at a time. It shows the ceiling the database write path puts on <c>POST /events</c>.
/// </summary>
internal static class RecorderBenchmark
{
    private static TimeSpan ProcessCpu()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var template = PayloadTemplate.Load();
        var parsed = (WebhookEvent.Deployment)WebhookEventReader.Read("deployment", Encoding.UTF8.GetBytes(template.Text(PayloadTemplate.FirstId)));
        var root = Path.Combine(Path.GetTempPath(), "heaven-bench", Guid.NewGuid().ToString("N"));
        try
        {
            var builder = HeavenApp.CreateBuilder(["--urls", "http://127.0.0.1:0"], new Dictionary<string, string?>());
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["DataDirectory"] = Path.Combine(root, "data"),
                ["Webhooks:Secret"] = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
                ["Logging:LogLevel:Default"] = options.ServerLogLevel,
            });
            foreach (var arg in options.ServerArgs)
            {
                var at = arg.IndexOf('=', StringComparison.Ordinal);
                builder.Configuration[arg[2..at]] = arg[(at + 1)..];
            }

            await using var app = HeavenApp.Build(builder);
            await HeavenApp.PrepareAsync(app, CancellationToken.None);
            await app.StartAsync();
            var recorder = app.Services.GetRequiredService<IDeliveryRecorder>();

            var nextId = PayloadTemplate.FirstId;
            var begin = Stopwatch.GetTimestamp();
            var measureStart = begin + (long)(options.WarmupSeconds * Stopwatch.Frequency);
            var measureEnd = measureStart + (long)(options.DurationSeconds * Stopwatch.Frequency);
            var cpuAtStart = TimeSpan.Zero;
            var cpuAtEnd = TimeSpan.Zero;
            var cpuSampler = Task.Run(async () =>
            {
                await Task.Delay(Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), measureStart));
                cpuAtStart = ProcessCpu();
                await Task.Delay(Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), measureEnd));
                cpuAtEnd = ProcessCpu();
            });
            var workers = Enumerable.Range(0, options.Connections).Select(_ => Task.Run(async () =>
            {
                var latencies = new List<long>(64 * 1024);
                long accepted = 0, other = 0;
                while (Stopwatch.GetTimestamp() < measureEnd)
                {
                    var id = Interlocked.Increment(ref nextId);
                    var delivery = new IncomingDelivery(
                        Guid.NewGuid().ToString(),
                        parsed with { Request = parsed.Request with { GitHubDeploymentId = id } },
                        RepositoryAllowed: true,
                        DateTime.UtcNow);
                    var sent = Stopwatch.GetTimestamp();
                    var result = await recorder.RecordAsync(delivery, CancellationToken.None);
                    var done = Stopwatch.GetTimestamp();
                    if (done >= measureStart && done < measureEnd)
                    {
                        latencies.Add(done - sent);
                        if (result.Result == DeliveryResult.Accepted)
                        {
                            accepted++;
                        }
                        else
                        {
                            other++;
                        }
                    }
                }

                return (latencies, accepted, other);
            })).ToArray();
            var results = await Task.WhenAll(workers);
            await cpuSampler;
            await app.StopAsync();

            var all = results.SelectMany(r => r.latencies).Order().ToList();
            double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
            double Percentile(double p) => all.Count == 0 ? double.NaN : Ms(all[Math.Clamp((int)Math.Ceiling(p * all.Count) - 1, 0, all.Count - 1)]);
            var accepted = results.Sum(r => r.accepted);
            Console.Out.WriteLine("| Diagnostic | Callers | Accepted in window | Per second | p50 ms | p99 ms | max ms | Other results | CPU per delivery |");
            Console.Out.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            Console.Out.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| `IDeliveryRecorder` alone, in-process{(options.ServerArgs.Count > 0 ? " (" + string.Join(' ', options.ServerArgs) + ")" : "")} | {options.Connections} | {accepted:N0} | {accepted / options.DurationSeconds:N0} | {Percentile(0.5):0.00} | {Percentile(0.99):0.00} | {(all.Count == 0 ? double.NaN : Ms(all[^1])):0.0} | {results.Sum(r => r.other)} | {(cpuAtEnd - cpuAtStart).TotalMicroseconds / Math.Max(1, accepted):0} µs |"));
            return 0;
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
    }
}
