using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Heaven.Tests.Infrastructure;

/// <summary>The real <c>heaven</c> executable in its own process, as an operator runs it.</summary>
public sealed partial class HeavenProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly List<string> standardOutput = [];
    private readonly TaskCompletionSource started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private HeavenProcess(Process process)
    {
        this.process = process;
        // Its base address is set once Heaven has said where it listens (see OnLine).
        Client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>Where Heaven listens, as its start-up report says (known once <c>StartAsync</c> has returned).</summary>
    public Uri BaseAddress => Client.BaseAddress ?? throw new InvalidOperationException("heaven has not said where it listens yet.");

    public HttpClient Client { get; }

    public int Id => process.Id;

    /// <summary>The lines printed on standard output alone, in order.</summary>
    public IReadOnlyList<string> StandardOutputLines
    {
        get
        {
            lock (output)
            {
                return [.. standardOutput];
            }
        }
    }

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

    public static Task<HeavenProcess> StartAsync(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        StartAsync(environment, runAs: null, args);

    /// <summary>As <see cref="StartAsync(IReadOnlyDictionary{string, string}, string[])"/>, waiting up to <paramref name="startTimeout"/> for it to run (several nodes starting at once on a busy machine).</summary>
    public static Task<HeavenProcess> StartAsync(IReadOnlyDictionary<string, string> environment, TimeSpan startTimeout, params string[] args) =>
        StartAsync(environment, runAs: null, ignoreInterrupts: false, args, startTimeout);

    /// <summary>
    /// Starts heaven as <c>heaven &amp;</c> from a non-interactive shell does: with SIGINT and SIGQUIT
    /// ignored, a disposition that exec keeps and every child inherits unless it is reset.
    /// </summary>
    public static Task<HeavenProcess> StartInBackgroundAsync(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        StartAsync(environment, runAs: null, ignoreInterrupts: true, args);

    /// <summary>Starts heaven as <paramref name="runAs"/> (through setpriv; the test runs as root), or as the test's own user.</summary>
    public static Task<HeavenProcess> StartAsync(IReadOnlyDictionary<string, string> environment, Heaven.Execution.DeployUser? runAs, params string[] args) =>
        StartAsync(environment, runAs, ignoreInterrupts: false, args);

    private static async Task<HeavenProcess> StartAsync(IReadOnlyDictionary<string, string> environment, Heaven.Execution.DeployUser? runAs, bool ignoreInterrupts, string[] args, TimeSpan? startTimeout = null)
    {
        // Port 0, and the port Heaven took is read from what it prints (ListeningAddress).
        var info = Command(["--urls", "http://127.0.0.1:0", .. args], environment);
        if (runAs is not null)
        {
            info = AsUser(runAs.UserId.ToString(CultureInfo.InvariantCulture), runAs.GroupId.ToString(CultureInfo.InvariantCulture), info);
        }

        if (ignoreInterrupts)
        {
            info = WithInterruptsIgnored(info);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var heaven = new HeavenProcess(process);
        process.OutputDataReceived += (_, e) => heaven.OnLine(e.Data, standardOutput: true);
        process.ErrorDataReceived += (_, e) => heaven.OnLine(e.Data, standardOutput: false);
        process.Exited += (_, _) => heaven.started.TrySetException(new InvalidOperationException("heaven exited before it was running:\n" + heaven.Output));
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await heaven.started.Task.WaitAsync(startTimeout ?? TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            await heaven.DisposeAsync();
            throw new TimeoutException("heaven did not say it was running in time; it printed:\n" + heaven.Output);
        }

        return heaven;
    }

    /// <summary>Runs a <c>heaven</c> command to completion: exit code and everything it printed.</summary>
    public static Task<(int ExitCode, string Output, string Error)> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        RunAsync(Command(args, environment));

    /// <summary>
    /// Runs a <c>heaven</c> command as another user (<c>setpriv</c>; the test must run as root), for
    /// what only an unprivileged Heaven meets: a file it may not change.
    /// </summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunAsUserAsync(string user, string group, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        // The build output may lie where only root can read (a checkout under /root): then the other
        // user runs a copy of it from a folder it may read.
        DirectoryInfo? copy = null;
        var appDirectory = AppContext.BaseDirectory;
        if (!OthersMayRead(appDirectory))
        {
            copy = Directory.CreateTempSubdirectory("heaven-app-");
            File.SetUnixFileMode(copy.FullName, (UnixFileMode)0b111_101_101);
            foreach (var file in Directory.EnumerateFiles(appDirectory, "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(copy.FullName, Path.GetRelativePath(appDirectory, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
                File.SetUnixFileMode(target, (UnixFileMode)0b110_100_100);
            }

            foreach (var folder in Directory.EnumerateDirectories(copy.FullName, "*", SearchOption.AllDirectories))
            {
                File.SetUnixFileMode(folder, (UnixFileMode)0b111_101_101);
            }

            appDirectory = copy.FullName;
        }

        try
        {
            return await RunAsync(AsUser(user, group, Command(args, environment, appDirectory)));
        }
        finally
        {
            copy?.Delete(recursive: true);
        }
    }

    /// <summary>Whether every user may enter each folder up to <paramref name="directory"/> and read its files.</summary>
    private static bool OthersMayRead(string directory)
    {
        const UnixFileMode enter = UnixFileMode.OtherExecute | UnixFileMode.OtherRead;
        for (var folder = new DirectoryInfo(directory); folder is not null; folder = folder.Parent)
        {
            if ((folder.UnixFileMode & enter) != enter)
            {
                return false;
            }
        }

        return Directory.EnumerateFiles(directory).All(f => (File.GetUnixFileMode(f) & UnixFileMode.OtherRead) != 0);
    }

    private static ProcessStartInfo WithInterruptsIgnored(ProcessStartInfo heaven)
    {
        var info = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = heaven.RedirectStandardInput,
            RedirectStandardOutput = heaven.RedirectStandardOutput,
            RedirectStandardError = heaven.RedirectStandardError,
            UseShellExecute = false,
            WorkingDirectory = heaven.WorkingDirectory,
        };
        foreach (var arg in new[] { "-c", "trap '' INT QUIT; exec \"$0\" \"$@\"", heaven.FileName })
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var arg in heaven.ArgumentList)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment.Clear();
        foreach (var (name, value) in heaven.Environment)
        {
            info.Environment[name] = value;
        }

        return info;
    }

    private static ProcessStartInfo AsUser(string user, string group, ProcessStartInfo heaven)
    {
        var info = new ProcessStartInfo("setpriv")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // A folder the other user may enter.
            WorkingDirectory = "/",
        };
        foreach (var arg in new[] { $"--reuid={user}", $"--regid={group}", "--clear-groups", "--", heaven.FileName })
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var arg in heaven.ArgumentList)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in heaven.Environment)
        {
            info.Environment[key] = value;
        }

        // The other user's own home may not exist; the runtime needs a writable one.
        info.Environment["HOME"] = Path.GetTempPath();
        return info;
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(ProcessStartInfo info)
    {
        using var process = Process.Start(info)!;
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

    /// <summary>SIGTERM, as systemd and <c>docker stop</c> send it.</summary>
    public const int Sigterm = 15;

    /// <summary>SIGINT, as Ctrl+C in a terminal sends it.</summary>
    public const int Sigint = 2;

    /// <summary>Sends <paramref name="signal"/> to the heaven process.</summary>
    public void Signal(int signal)
    {
        if (!Heaven.Execution.Posix.SignalProcess(process.Id, signal))
        {
            throw new InvalidOperationException($"Could not send signal {signal} to heaven (process {process.Id}).");
        }
    }

    /// <summary>Waits for heaven to exit by itself (within <paramref name="timeout"/>, default 60 s) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        await Poll.SignalAsync(process.WaitForExitAsync(), "heaven to exit", timeout ?? TimeSpan.FromSeconds(60), () => "It printed:\n" + Output);
        return process.ExitCode;
    }

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

    private void OnLine(string? line, bool standardOutput)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
            if (standardOutput)
            {
                this.standardOutput.Add(line);
            }
        }

        if (Client.BaseAddress is null && ListeningAddress(line) is { } address)
        {
            Client.BaseAddress = address;
            started.TrySetResult();
        }
    }

    /// <summary>
    /// The loopback address in the start-up report's "Listening on" line, printed as it is or as (part
    /// of) the message of a JSON log line; null for any other line. Tests start Heaven on port 0 (the
    /// kernel picks a free port as Heaven binds it) and learn the port here: a port looked up in advance
    /// could be taken by another test's connection before Heaven binds it.
    /// </summary>
    public static Uri? ListeningAddress(string line) =>
        ListeningOn().Match(line) is { Success: true } listening ? new Uri(listening.Groups["address"].Value) : null;

    [GeneratedRegex(@"Listening on +(?<address>http://127\.0\.0\.1:[0-9]+)")]
    private static partial Regex ListeningOn();

    private static ProcessStartInfo Command(IEnumerable<string> args, IReadOnlyDictionary<string, string> environment, string? appDirectory = null)
    {
        appDirectory ??= AppContext.BaseDirectory;
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = appDirectory,
        };
        info.ArgumentList.Add(Path.Combine(appDirectory, "heaven.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // Only what the test says: a developer's own GITHUB_TOKEN or DATABASE_URL must not leak in.
        foreach (var name in new[] { "GITHUB_TOKEN", "DATABASE_URL", "GITHUB_WEBHOOK_SECRET", "HEAVEN_DATA_DIR", "ASPNETCORE_URLS", "DEPLOYMENT_TIMEOUT" })
        {
            info.Environment.Remove(name);
        }

        // As in HeavenTestHost: tests that need isolated deploys say so.
        info.Environment["Deployments__Isolation"] = "none";
        // Test repositories are local (TestRepository); a test may say otherwise.
        info.Environment["Checkout__AllowLocalRepositories"] = "true";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        return info;
    }
}
