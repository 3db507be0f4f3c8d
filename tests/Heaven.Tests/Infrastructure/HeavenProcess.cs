using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Heaven.Tests.Infrastructure;

/// <summary>The real <c>heaven</c> executable in its own process, as an operator runs it.</summary>
public sealed class HeavenProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly TaskCompletionSource started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private HeavenProcess(Process process, Uri baseAddress)
    {
        this.process = process;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public int Id => process.Id;

    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    public static async Task<HeavenProcess> StartAsync(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var port = FreePort();
        var info = Command(["--urls", $"http://127.0.0.1:{port}", .. args], environment);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var heaven = new HeavenProcess(process, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, e) => heaven.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => heaven.OnLine(e.Data);
        process.Exited += (_, _) => heaven.started.TrySetException(new InvalidOperationException("heaven exited before it was running:\n" + heaven.Output));
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await heaven.started.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return heaven;
    }

    /// <summary>Runs a <c>heaven</c> command to completion: exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        using var process = Process.Start(Command(args, environment))!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            // A command that should have stopped (a start that should have failed) must not outlive the test.
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Waits until the process has printed <paramref name="text"/> (output arrives line by line).</summary>
    public Task WaitForOutputAsync(string text, TimeSpan? timeout = null) =>
        Poll.UntilAsync(() => Output.Contains(text, StringComparison.Ordinal), $"heaven to print '{text}'", timeout, () => "It printed:\n" + Output);

    /// <summary>SIGKILL: no shutdown code runs, exactly like a crash or the OOM killer.</summary>
    public async Task KillHardAsync()
    {
        process.Kill(entireProcessTree: false);
        await process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!process.HasExited)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }

        if (line.StartsWith("Heaven is running.", StringComparison.Ordinal))
        {
            started.TrySetResult();
        }
    }

    private static ProcessStartInfo Command(IEnumerable<string> args, IReadOnlyDictionary<string, string> environment)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "heaven.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // Only what the test says: a developer's own GITHUB_TOKEN or DATABASE_URL must not leak in.
        foreach (var name in new[] { "GITHUB_TOKEN", "DATABASE_URL", "GITHUB_WEBHOOK_SECRET", "HEAVEN_DATA_DIR", "ASPNETCORE_URLS", "DEPLOYMENT_TIMEOUT" })
        {
            info.Environment.Remove(name);
        }

        // Test repositories are local (TestRepository); a test may say otherwise.
        info.Environment["Checkout__AllowLocalRepositories"] = "true";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        return info;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
