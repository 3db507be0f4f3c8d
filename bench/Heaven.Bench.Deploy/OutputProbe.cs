using System.Diagnostics;
using Heaven.Execution;
using Heaven.Hosting;
using Heaven.Model;
using Heaven.Output;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Bench.Deploy;

/// <summary>
/// Where the output benchmark's time goes: the same 200 MiB through Heaven's own components, one
/// stage added at a time, in this process (composed by HeavenApp like the server, not started).
/// Run with <c>--probe</c>.
/// </summary>
internal static class OutputProbe
{
    public static async Task<Section> RunAsync(BenchSettings settings)
    {
        var data = Path.Combine(settings.WorkDirectory, "probe-data");
        var builder = HeavenApp.CreateBuilder(["--urls", "http://127.0.0.1:0"], new Dictionary<string, string?>());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DataDirectory"] = data,
            ["Webhooks:Secret"] = HeavenServer.Secret,
            ["GitHub:Token"] = HeavenServer.Token,
            ["GitHub:ApiUrl"] = settings.GitHub.ApiUrl,
            ["Deployments:Isolation"] = "none",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        await using var app = HeavenApp.Build(builder);
        await HeavenApp.PrepareAsync(app, CancellationToken.None);
        var runner = app.Services.GetRequiredService<IProcessRunner>();
        var outputs = app.Services.GetRequiredService<DeploymentOutputs>();
        var flood = settings.Repository.ScriptPath("flood");
        var spec = new ProcessSpec(flood, [], settings.Repository.WorkPath, new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }, TimeSpan.FromMinutes(5));
        var lines = new List<string>
        {
            $"The output benchmark's {Stats.MB(BenchRepository.FloodBytes)} through Heaven's components in one process (server GC), one stage added at a time; " +
            "each row is the best of 2 runs. The stored log is SQLite in a temporary folder, as in the server.",
            "",
            "| stage | time | rate | CPU (user + system) | allocated (managed) |",
            "|---|---:|---:|---:|---:|",
        };

        async Task Stage(string name, Func<long, Task> body)
        {
            var best = TimeSpan.MaxValue;
            var bestCpu = TimeSpan.Zero;
            long allocated = 0;
            for (var attempt = 0; attempt < 2; attempt++)
            {
                var id = 1_000_000 + Random.Shared.Next(1_000_000);
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var bytes = GC.GetTotalAllocatedBytes(precise: true);
                var watch = Stopwatch.StartNew();
                await body(id);
                if (watch.Elapsed < best)
                {
                    best = watch.Elapsed;
                    bestCpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
                    allocated = GC.GetTotalAllocatedBytes(precise: true) - bytes;
                }
            }

            lines.Add($"| {name} | {Stats.S(best.TotalSeconds)} | {Stats.Rate(BenchRepository.FloodBytes / best.TotalSeconds)} | {Stats.S(bestCpu.TotalSeconds)} | {Stats.MB(allocated)} |");
            Console.Error.WriteLine(lines[^1]);
        }

        await Stage("the script into a pipe, read by .NET (no Heaven)", async _ => await DirectRun.RunAsync(flood, settings.Repository.WorkPath));
        await Stage("process runner → a sink that drops the lines", async _ => await runner.RunAsync(spec, new NullSink(null), CancellationToken.None));
        await Stage("process runner → secret masker (server secrets) → dropped", async _ => await runner.RunAsync(spec, new NullSink(outputs.CreateMasker()), CancellationToken.None));
        await Stage("2 Mi lines from memory → DeploymentLog (mask, store in SQLite), no runner", async id =>
        {
            await using var log = outputs.OpenLog(id, outputs.CreateMasker());
            for (var i = 0; i < BenchRepository.FloodLines; i++)
            {
                await log.WriteLineAsync(OutputStream.Stdout, BenchRepository.FloodLine, CancellationToken.None);
            }

            await log.CompleteAsync(CancellationToken.None);
        });
        await Stage("process runner → DeploymentLog (SQLite), no gist", async id =>
        {
            await using var log = outputs.OpenLog(id, outputs.CreateMasker());
            await runner.RunAsync(spec, log, CancellationToken.None);
            await log.CompleteAsync(CancellationToken.None);
        });
        await Stage("process runner → DeploymentLog + gist mirror (fake GitHub): the server's path", async id =>
        {
            await using var gist = outputs.CreateGistMirror(id, BenchRepository.FullName)!;
            gist.Start();
            await using var log = outputs.OpenLog(id, outputs.CreateMasker(), gist);
            await runner.RunAsync(spec, log, CancellationToken.None);
            await log.CompleteAsync(CancellationToken.None);
            await gist.CompleteAsync(CancellationToken.None);
        });

        // The gist's last update after a flood: rendering the kept 4 MB and sending it (Octokit) is the
        // largest single burst of allocation in a deploy.
        {
            var id = 3_000_000 + Random.Shared.Next(1_000_000);
            await using var gist = outputs.CreateGistMirror(id, BenchRepository.FullName)!;
            gist.Start();
            await gist.Settled;
            var chunk = string.Concat(Enumerable.Repeat("o" + BenchRepository.FloodLine + "\n", 2600));
            for (var i = 0; i < BenchRepository.FloodBytes / (chunk.Length - 2600); i++)
            {
                gist.OnChunk(chunk, 2600);
            }

            var bytes = GC.GetTotalAllocatedBytes(precise: true);
            var watch = Stopwatch.StartNew();
            await gist.CompleteAsync(CancellationToken.None);
            lines.Add($"| the gist's final update after 200 MB (render 4 MB, send the changed files, read GitHub's answer) | {Stats.S(watch.Elapsed.TotalSeconds)} | | | {Stats.MB(GC.GetTotalAllocatedBytes(precise: true) - bytes)} |");
        }

        return new Section("Where the output time goes (probe)", lines);
    }

    private sealed class NullSink(ISecretMasker? masker) : IOutputSink
    {
        public long Lines { get; private set; }

        public ValueTask WriteLineAsync(OutputStream stream, string line, CancellationToken cancellationToken)
        {
            _ = masker?.Mask(line);
            Lines++;
            return default;
        }
    }
}
