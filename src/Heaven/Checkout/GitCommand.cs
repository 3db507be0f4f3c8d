using System.ComponentModel;
using System.Diagnostics;

namespace Heaven.Checkout;

/// <summary>How one git invocation ended: its exit code (none when it timed out), stdout, and the last lines of stderr.</summary>
internal sealed record GitResult(int? ExitCode, bool TimedOut, string StandardOutput, IReadOnlyList<string> ErrorLines)
{
    public bool Succeeded => ExitCode == 0 && !TimedOut;
}

/// <summary>
/// Runs git for the checkout: an argument vector, stdin closed, output captured within bounds, a
/// timeout, and cancellation that kills git with everything it started (remote helpers, ssh).
/// Private to the checkout on purpose: git's few short commands need none of the deploy runner's streaming.
/// </summary>
internal sealed class GitCommand(string executable, GitEnvironment environment, TimeProvider timeProvider)
{
    private const int MaxOutputChars = 1 << 20;
    private const int MaxErrorLines = 200;
    private const int MaxLineChars = 2000;

    // After git exits, a grandchild (a credential helper, ssh's control master) may still hold the pipes.
    private static readonly TimeSpan DrainBound = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan KillBound = TimeSpan.FromSeconds(10);

    public string Executable => executable;

    public GitEnvironment Environment => environment;

    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; git was killed.</exception>
    /// <exception cref="CheckoutException">git could not be started.</exception>
    public async Task<GitResult> RunAsync(IReadOnlyList<string> arguments, string workingDirectory, TimeSpan timeout, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // Not Heaven's environment: only the variables GitEnvironment lists.
        environment.ApplyTo(start.Environment);

        using var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.Exited += (_, _) => exited.TrySetResult();
        try
        {
            process.Start();
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException)
        {
            throw new CheckoutException($"git ({executable}) could not be started; install git or set Git:Executable");
        }

        // A prompt reading stdin would wait forever; closed, it fails at once.
        process.StandardInput.Close();
        var stdout = ReadOutputAsync(process.StandardOutput);
        var stderr = ReadErrorLinesAsync(process.StandardError);

        var timedOut = false;
        using (var timer = new CancellationTokenSource(timeout, timeProvider))
        using (var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token))
        {
            try
            {
                // The Exited event, not WaitForExitAsync: the latter also waits for the pipes to close.
                await exited.Task.WaitAsync(either.Token);
            }
            catch (OperationCanceledException)
            {
                Kill(process);
                await exited.Task.WaitAsync(KillBound, CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
                cancellationToken.ThrowIfCancellationRequested();
                timedOut = true;
            }
        }

        await Task.WhenAll(stdout, stderr).WaitAsync(DrainBound, CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
        return new GitResult(
            timedOut || !process.HasExited ? null : process.ExitCode,
            timedOut,
            stdout.IsCompletedSuccessfully ? stdout.Result : "",
            stderr.IsCompletedSuccessfully ? stderr.Result : []);
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception or NotSupportedException)
        {
            // Already gone.
        }
    }

    private static async Task<string> ReadOutputAsync(StreamReader reader)
    {
        var text = new System.Text.StringBuilder();
        var buffer = new char[8192];
        try
        {
            int read;
            while ((read = await reader.ReadAsync(buffer)) > 0)
            {
                // Keep reading past the bound so git never blocks on a full pipe.
                text.Append(buffer, 0, Math.Min(read, Math.Max(0, MaxOutputChars - text.Length)));
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }

        return text.ToString();
    }

    private static async Task<IReadOnlyList<string>> ReadErrorLinesAsync(StreamReader reader)
    {
        var lines = new Queue<string>();
        try
        {
            // ReadLine also ends a line at a lone '\r', so each state of a progress line is its own line.
            while (await reader.ReadLineAsync() is { } line)
            {
                lines.Enqueue(line.Length > MaxLineChars ? line[..MaxLineChars] : line);
                if (lines.Count > MaxErrorLines)
                {
                    lines.Dequeue();
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }

        return [.. lines];
    }
}
