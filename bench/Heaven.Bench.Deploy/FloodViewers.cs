using System.Diagnostics;
using System.Globalization;

namespace Heaven.Bench.Deploy;

/// <summary>
/// The viewers of a flood, in a process of their own at the lowest CPU priority: they stand in for
/// browsers on other machines. On this machine's two cores, viewers in the benchmark's own process
/// took CPU time from the deploy they watched (and delayed the fake GitHub that times it), which is a
/// cost of the benchmark, not of Heaven; niced, they still connect, authenticate and read every event
/// the server sends, and the server's own CPU time per flood is reported beside the throughput.
/// </summary>
internal static class FloodViewers
{
    public const string ChildFlag = "--flood-viewers";

    /// <summary>The read token reaches the child in its environment, never on its command line.</summary>
    private const string TokenVariable = "HEAVEN_BENCH_VIEWER_TOKEN";

    /// <summary>
    /// Starts the process of <paramref name="count"/> viewers and waits until it is ready to follow, so
    /// that they can attach right after the 202 (<see cref="Running.FollowAsync"/>), as they would from
    /// their browsers; dispose to stop them and read what they received.
    /// </summary>
    public static async Task<Running> StartAsync(Uri baseAddress, string token, int count)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("The benchmark's own path is unknown.");
        var info = new ProcessStartInfo("nice") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add("-n");
        info.ArgumentList.Add("19");
        info.ArgumentList.Add(self);
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            info.ArgumentList.Add(typeof(FloodViewers).Assembly.Location);
        }

        info.ArgumentList.Add(ChildFlag);
        info.ArgumentList.Add(baseAddress.ToString());
        info.ArgumentList.Add(count.ToString(CultureInfo.InvariantCulture));
        info.Environment[TokenVariable] = token;
        var process = Process.Start(info) ?? throw new InvalidOperationException("The viewers' process did not start.");
        if (await process.StandardOutput.ReadLineAsync() != "ready")
        {
            throw new InvalidOperationException("The viewers' process did not get ready.");
        }

        return new Running(process);
    }

    /// <summary>
    /// The child: says "ready", reads the deployment's id from its standard input, follows its log with
    /// <paramref name="count"/> viewers until its standard input closes, then prints "lines gaps".
    /// </summary>
    public static async Task<int> ChildAsync(Uri baseAddress, int count)
    {
        var token = Environment.GetEnvironmentVariable(TokenVariable) ?? throw new InvalidOperationException($"{TokenVariable} is not set.");
        var viewers = new LogViewers(baseAddress, token);
        Console.WriteLine("ready");
        var deploymentId = long.Parse(await Console.In.ReadLineAsync() ?? throw new InvalidOperationException("No deployment to follow."), CultureInfo.InvariantCulture);
        long lines = 0;
        long gaps = 0;
        using var stop = new CancellationTokenSource();
        var tasks = Enumerable.Range(0, count).Select(_ => Task.Run(async () =>
        {
            try
            {
                await viewers.FollowAsync(deploymentId, (number, _) =>
                {
                    if (number < 0)
                    {
                        Interlocked.Increment(ref gaps);
                    }
                    else
                    {
                        Interlocked.Increment(ref lines);
                    }
                }, null, stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or HttpRequestException or IOException)
            {
            }
        })).ToList();
        await Console.In.ReadToEndAsync();
        await stop.CancelAsync();
        await Task.WhenAll(tasks);
        Console.WriteLine($"{lines} {gaps}");
        return 0;
    }

    public sealed class Running(Process process) : IAsyncDisposable
    {
        public long Lines { get; private set; }

        public long Gaps { get; private set; }

        /// <summary>The viewers attach to <paramref name="deploymentId"/>'s log now.</summary>
        public async Task FollowAsync(long deploymentId)
        {
            await process.StandardInput.WriteLineAsync(deploymentId.ToString(CultureInfo.InvariantCulture));
            await process.StandardInput.FlushAsync();
        }

        /// <summary>Stops the viewers and reads what they received.</summary>
        public async ValueTask DisposeAsync()
        {
            process.StandardInput.Close();
            var counts = (await process.StandardOutput.ReadToEndAsync()).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            await process.WaitForExitAsync();
            process.Dispose();
            if (counts.Length == 2)
            {
                Lines = long.Parse(counts[0], CultureInfo.InvariantCulture);
                Gaps = long.Parse(counts[1], CultureInfo.InvariantCulture);
            }
        }
    }
}
