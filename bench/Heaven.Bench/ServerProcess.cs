using System.Diagnostics;

namespace Heaven.Bench;

/// <summary>
/// The Heaven server under test, in a child process of its own (this executable in <c>server</c> mode),
/// so the load generator's threads, allocations and GC do not share a process with it.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process process;

    private ServerProcess(Process process, Uri baseAddress)
    {
        this.process = process;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public int Id => process.Id;

    public static async Task<ServerProcess> StartAsync(string dataDirectory, string secret, BenchOptions options)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
        };

        // Under `dotnet run` this is the apphost; under `dotnet Heaven.Bench.dll` it is dotnet itself.
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("The path of this executable is unknown.");
        start.FileName = self;
        if (Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            start.ArgumentList.Add(typeof(ServerProcess).Assembly.Location);
        }

        foreach (var arg in new[] { "server", "--data", dataDirectory, "--server-log-level", options.ServerLogLevel })
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var arg in options.ServerArgs)
        {
            start.ArgumentList.Add("--server-arg");
            start.ArgumentList.Add(arg);
        }

        start.Environment[BenchServer.SecretVariable] = secret;
        // As the Web SDK sets for the heaven executable (ServerGarbageCollection); this console project does not.
        start.Environment["DOTNET_gcServer"] = "1";

        var process = Process.Start(start) ?? throw new InvalidOperationException("The server process did not start.");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith(BenchServer.ReadyPrefix, StringComparison.Ordinal))
                {
                    _ = ForwardAsync(process.StandardOutput);
                    return new ServerProcess(process, new Uri(line[BenchServer.ReadyPrefix.Length..]));
                }

                await Console.Error.WriteLineAsync("[server] " + line);
            }
        }
        catch (OperationCanceledException)
        {
        }

        process.Kill(entireProcessTree: true);
        throw new InvalidOperationException($"The server did not start listening (exit code {(process.HasExited ? process.ExitCode : -1)}).");
    }

    /// <summary>CPU time (user and system) the server has used so far.</summary>
    public TimeSpan CpuTime()
    {
        process.Refresh();
        return process.HasExited ? TimeSpan.Zero : process.TotalProcessorTime;
    }

    /// <summary>SIGKILL: nothing gets to flush or shut down cleanly, so only what was committed survives.</summary>
    public async Task KillAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        await process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        process.Dispose();
    }

    private static async Task ForwardAsync(StreamReader output)
    {
        while (await output.ReadLineAsync() is { } line)
        {
            await Console.Error.WriteLineAsync("[server] " + line);
        }
    }
}
