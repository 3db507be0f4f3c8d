using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;

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
        // As light as it can be beside the deploy: one processor's worth of threads, which never spin
        // waiting for work (a thread pool's spinning after each read cost this process more CPU than reading).
        info.Environment["DOTNET_PROCESSOR_COUNT"] = "1";
        info.Environment["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0";
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
        var counts = new EventCounts();
        using var stop = new CancellationTokenSource();
        var tasks = Enumerable.Range(0, count).Select(_ => Task.Run(async () =>
        {
            try
            {
                await CountEventsAsync(viewers, deploymentId, counts, stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or HttpRequestException or IOException)
            {
            }
        })).ToList();
        await Console.In.ReadToEndAsync();
        await stop.CancelAsync();
        await Task.WhenAll(tasks);
        Console.WriteLine($"{counts.Lines} {counts.Gaps}");
        return 0;
    }

    /// <summary>
    /// Follows the log to its <c>end</c> event and counts the <c>line</c> and <c>gap</c> events, from the
    /// bytes: a browser's work happens on another machine, so the stand-in for it does as little as it
    /// can beside the deploy (decoding each event into strings cost this process about 7 µs an event,
    /// 1.2 s of CPU a flood, taken from the two cores the deploy runs on).
    /// </summary>
    /// <remarks>A viewer still reading when the flood's final status arrives is stopped: what it counted until then is in <paramref name="counts"/>.</remarks>
    private static async Task CountEventsAsync(LogViewers viewers, long deploymentId, EventCounts counts, CancellationToken cancellationToken)
    {
        using var client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = Timeout.InfiniteTimeSpan }) { BaseAddress = viewers.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
        using var response = await client.SendAsync(viewers.Request(deploymentId, null), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        var reader = PipeReader.Create(body);
        while (true)
        {
            var read = await reader.ReadAsync(cancellationToken);
            var buffer = read.Buffer;
            while (buffer.PositionOf((byte)'\n') is { } end)
            {
                var line = buffer.Slice(0, end);
                buffer = buffer.Slice(buffer.GetPosition(1, end));
                switch (EventName(line))
                {
                    case "line":
                        Interlocked.Increment(ref counts.Lines);
                        break;
                    case "gap":
                        Interlocked.Increment(ref counts.Gaps);
                        break;
                    case "end":
                        await reader.CompleteAsync();
                        return;
                }
            }

            reader.AdvanceTo(buffer.Start, read.Buffer.End);
            if (read.IsCompleted)
            {
                await reader.CompleteAsync();
                return;
            }
        }
    }

    /// <summary>The event an <c>event:</c> field names, when it is one the flood's viewers count; else null.</summary>
    private static string? EventName(ReadOnlySequence<byte> field)
    {
        if (field.Length is < 9 or > 11)
        {
            return null;
        }

        Span<byte> bytes = stackalloc byte[11];
        field.CopyTo(bytes);
        return bytes[..(int)field.Length] switch
        {
            var b when b.SequenceEqual("event: line"u8) => "line",
            var b when b.SequenceEqual("event: gap"u8) => "gap",
            var b when b.SequenceEqual("event: end"u8) => "end",
            _ => null,
        };
    }

    /// <summary>Events all viewers of a flood received.</summary>
    private sealed class EventCounts
    {
        public long Lines;
        public long Gaps;
    }

    public sealed class Running(Process process) : IAsyncDisposable
    {
        public long Lines { get; private set; }

        public long Gaps { get; private set; }

        /// <summary>The viewers' process, whose CPU time the benchmark reports beside the server's.</summary>
        public int ProcessId => process.Id;

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
