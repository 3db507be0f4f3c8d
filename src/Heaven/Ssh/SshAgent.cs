using System.ComponentModel;
using System.Diagnostics;
using Heaven.Execution;

namespace Heaven.Ssh;

/// <summary>
/// An <c>ssh-agent</c> that belongs to one deployment: started in the foreground (<c>-D</c>) as
/// Heaven's own child on a socket in the deployment's private folder, stopped when the deployment
/// ends. Its own process, not part of the deploy's process group, so stopping the deploy's tree
/// leaves it to Heaven to stop — after the last tool that needs it.
/// </summary>
internal sealed class SshAgent : IAsyncDisposable
{
    private static readonly TimeSpan StartWait = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan TermGrace = TimeSpan.FromSeconds(2);

    private readonly Process process;
    private readonly Task exited;
    private readonly TimeProvider time;
    private int disposed;

    private SshAgent(Process process, Task exited, string socketPath, TimeProvider time)
    {
        this.process = process;
        this.exited = exited;
        this.time = time;
        SocketPath = socketPath;
        ProcessId = process.Id;
    }

    public string SocketPath { get; }

    public int ProcessId { get; }

    /// <exception cref="CredentialsException">ssh-agent could not be started or did not open its socket.</exception>
    public static async Task<SshAgent> StartAsync(
        string executable, string socketPath, IReadOnlyDictionary<string, string> environment, TimeProvider time, CancellationToken cancellationToken, DeployUser? runAs = null)
    {
        // As the deploy user when deploys run as one: ssh-agent serves only clients of its own user (and root).
        string[] command = runAs is null ? [executable] : [.. DeployIsolation.UserSwitch(runAs), executable];
        var start = new ProcessStartInfo(command[0])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(socketPath)!,
        };
        foreach (var argument in command[1..])
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add("-D");
        start.ArgumentList.Add("-a");
        start.ArgumentList.Add(socketPath);
        start.Environment.Clear();
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.Exited += (_, _) => exited.TrySetResult();
        try
        {
            process.Start();
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException)
        {
            process.Dispose();
            throw new CredentialsException($"ssh-agent ({executable}) could not be started: {e.Message}");
        }

        process.StandardInput.Close();
        // -D prints "SSH_AUTH_SOCK=...; export SSH_AUTH_SOCK;" once it listens. The socket file alone is
        // not enough: it exists from bind(), a moment before listen(), and a client connecting in
        // between is refused. Both pipes are read to the end so the agent never blocks on them.
        var errors = new Queue<string>();
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Drain(process.StandardOutput, null, line =>
        {
            if (line.StartsWith("SSH_AUTH_SOCK=", StringComparison.Ordinal))
            {
                listening.TrySetResult();
            }
        });
        var stderr = Drain(process.StandardError, errors, null);
        var agent = new SshAgent(process, exited.Task, socketPath, time);

        try
        {
            await Task.WhenAny(listening.Task, exited.Task).WaitAsync(StartWait, time, cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
        }

        if (listening.Task.IsCompleted && !exited.Task.IsCompleted && File.Exists(socketPath))
        {
            return agent;
        }

        await agent.DisposeAsync();
        cancellationToken.ThrowIfCancellationRequested();
        await stderr.WaitAsync(TimeSpan.FromSeconds(1), time, CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
        string detail;
        lock (errors)
        {
            detail = errors.Count > 0 ? $": {string.Join(" ", errors)}" : "";
        }

        throw new CredentialsException($"ssh-agent did not start listening on {socketPath}{detail}");
    }

    /// <summary>Stops the agent (SIGTERM, which makes it remove its socket; SIGKILL if it lingers). Never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        try
        {
            if (!exited.IsCompleted)
            {
                Posix.SignalProcess(ProcessId, Posix.SigTerm);
                await exited.WaitAsync(TermGrace, time, CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
            }

            if (!exited.IsCompleted)
            {
                process.Kill();
                await exited.WaitAsync(TermGrace, time, CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception)
        {
            // Already gone.
        }
        finally
        {
            process.Dispose();
            try
            {
                File.Delete(SocketPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Its folder is deleted next, with it.
            }
        }
    }

    private static async Task Drain(StreamReader reader, Queue<string>? keep, Action<string>? onLine)
    {
        try
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                onLine?.Invoke(line);
                if (keep is not null)
                {
                    lock (keep)
                    {
                        keep.Enqueue(line.Length > 300 ? line[..300] : line);
                        if (keep.Count > 5)
                        {
                            keep.Dequeue();
                        }
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
    }
}
