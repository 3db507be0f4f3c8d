using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;
using Heaven.Model;

namespace Heaven.Execution;

/// <summary>
/// Runs deploy scripts and tools on Linux. The child is started through <c>setsid</c>: a child forked
/// by .NET is never a process group leader, so setsid does not fork, and the child's pid is its
/// process group id and session id. Signals go to that whole group, and a marker variable in the
/// child's environment finds what left the group. Exit is detected by the Exited event, never by
/// waiting for the pipes to close: a daemon the script started may hold them open forever.
/// </summary>
internal sealed partial class ProcessRunner : IProcessRunner
{
    /// <summary>Marks every process of one run (inherited through fork and exec) so leftovers can be found.</summary>
    public const string RunMarkerVariable = "HEAVEN_RUN_ID";

    /// <summary>
    /// Names the node and deployment a run belongs to (<c>node-id/deployment-id</c>), set by the
    /// deploy pipeline. Unlike the run marker it is known after a crash, so a restarted node can stop
    /// what its previous run left behind.
    /// </summary>
    public const string RunOwnerVariable = "HEAVEN_RUN_OWNER";

    private readonly ProcessRunnerOptions options;
    private readonly TimeProvider timeProvider;
    private readonly ILogger<ProcessRunner> logger;
    private readonly DeployIsolation? isolation;
    private readonly Workspaces? workspaces;

    public ProcessRunner(ProcessRunnerOptions options, TimeProvider timeProvider, ILogger<ProcessRunner> logger)
        : this(options, timeProvider, logger, null, null)
    {
    }

    /// <summary>With <paramref name="isolation"/>, every process started inside a deployment's folder runs isolated.</summary>
    public ProcessRunner(ProcessRunnerOptions options, TimeProvider timeProvider, ILogger<ProcessRunner> logger, DeployIsolation? isolation, Workspaces? workspaces)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        this.options = options;
        this.timeProvider = timeProvider;
        this.logger = logger;
        this.isolation = isolation;
        this.workspaces = workspaces;
    }

    private enum StopReason
    {
        TimedOut,
        Cancelled,
        OutputFailed,
    }

    public async Task<int> StopOrphansAsync(string ownerPrefix, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(ownerPrefix);
        cancellationToken.ThrowIfCancellationRequested();
        var stopped = await RunProcesses.Orphans(ownerPrefix, timeProvider).SweepAsync(options.SweepGrace);
        // Their folders too: the work directory is this data directory's, and nothing runs in it yet.
        workspaces?.RemoveAll();
        return stopped;
    }

    public async Task<ProcessResult> RunAsync(ProcessSpec spec, IOutputSink output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(output);
        if (spec.Timeout <= TimeSpan.Zero && spec.Timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(spec), spec.Timeout, "The timeout must be positive (or Timeout.InfiniteTimeSpan).");
        }

        // Nothing has started yet, so there is nothing to stop and no result to report.
        cancellationToken.ThrowIfCancellationRequested();

        var program = ProgramResolver.Resolve(spec);
        var markerValue = Guid.NewGuid().ToString("N");
        var isolated = await IsolationOfAsync(spec, cancellationToken);
        using var process = new Process { StartInfo = CreateStartInfo(spec, program, markerValue, isolated), EnableRaisingEvents = true };
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.Exited += (_, _) => exited.TrySetResult();

        var startedAt = timeProvider.GetTimestamp();
        try
        {
            process.Start();
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException)
        {
            throw new ProcessStartException($"Cannot start {spec.FileName} (through {options.SetsidPath}): {e.Message}", e);
        }

        var processes = new RunProcesses(process.Id, $"{RunMarkerVariable}={markerValue}", timeProvider);
        var finished = false;
        using var pump = new OutputPump(output, timeProvider);
        try
        {
            var result = await SuperviseAsync(spec, process, exited.Task, processes, pump, startedAt, cancellationToken);
            finished = true;
            await pump.CompleteAsync(options.OutputFlushTimeout);
            if (pump.Dropped > 0)
            {
                Log.LinesDropped(logger, process.Id, pump.Dropped);
            }

            if (pump.Failure is { } failure)
            {
                ExceptionDispatchInfo.Throw(failure);
            }

            return result;
        }
        finally
        {
            if (!finished)
            {
                // A bug in supervising must not leave the deploy running.
                Posix.SignalGroup(processes.GroupId, Posix.SigKill);
                await processes.SweepAsync(TimeSpan.FromMilliseconds(100));
            }
        }
    }

    private async Task<ProcessResult> SuperviseAsync(
        ProcessSpec spec, Process process, Task exited, RunProcesses processes, OutputPump pump, long startedAt, CancellationToken cancellationToken)
    {
        var pid = process.Id;
        // A prompt (git asking for a password, apt asking to continue) reads end of input instead of waiting for a person.
        process.StandardInput.Close();
        Log.Started(logger, pid, spec.FileName);

        using var readCancel = new CancellationTokenSource();
        var stdout = process.StandardOutput.BaseStream;
        var stderr = process.StandardError.BaseStream;
        var readers = Task.WhenAll(
            Task.Run(() => LineReader.ReadAsync(stdout, OutputStream.Stdout, options.MaxLineLength, pump, readCancel.Token), CancellationToken.None),
            Task.Run(() => LineReader.ReadAsync(stderr, OutputStream.Stderr, options.MaxLineLength, pump, readCancel.Token), CancellationToken.None));

        var reason = await WaitForExitOrStopAsync(spec.Timeout, exited, pump.Failed, cancellationToken);
        if (reason is { } stopReason)
        {
            await StopAsync(spec, stopReason, exited, processes, pump);
        }

        var leftovers = 0;
        if (!await Waits.CompletesWithinAsync(readers, options.DrainAfterExit, timeProvider))
        {
            // The child is gone but its pipes are not closed: something it started still holds them.
            Log.PipesHeld(logger, pid);
            leftovers += await processes.SweepAsync(options.SweepGrace);
            if (!await Waits.CompletesWithinAsync(readers, options.AbandonOutputAfter, timeProvider))
            {
                // Held by a process outside the group and without the marker: stop reading rather than wait for it.
                Log.OutputAbandoned(logger, pid);
                await readCancel.CancelAsync();
                if (!await Waits.CompletesWithinAsync(readers, TimeSpan.FromSeconds(1), timeProvider))
                {
                    stdout.Dispose();
                    stderr.Dispose();
                }
            }
        }

        // Always, also after a clean exit: a daemon with its output redirected closes no pipe we could notice.
        leftovers += await processes.SweepAsync(options.SweepGrace);
        var duration = timeProvider.GetElapsedTime(startedAt);
        if (leftovers > 0)
        {
            Log.LeftoversStopped(logger, pid, leftovers);
            pump.WriteHeaven(leftovers == 1
                ? "Stopped 1 process the deploy left running."
                : $"Stopped {leftovers} processes the deploy left running.");
        }

        int? exitCode = exited.IsCompleted ? process.ExitCode : null;
        Log.Finished(logger, pid, exitCode, reason?.ToString() ?? "exited", duration.TotalMilliseconds);
        return new ProcessResult(exitCode, reason == StopReason.TimedOut, reason == StopReason.Cancelled, duration);
    }

    /// <summary>Null when the child exited on its own; otherwise why it has to be stopped.</summary>
    private async Task<StopReason?> WaitForExitOrStopAsync(TimeSpan timeout, Task exited, Task outputFailed, CancellationToken cancellationToken)
    {
        var stop = new TaskCompletionSource<StopReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Timers cannot wait longer than about 49 days; a deploy timeout that long means "none".
        using var timer = timeout == Timeout.InfiniteTimeSpan || timeout > TimeSpan.FromDays(49)
            ? null
            : timeProvider.CreateTimer(_ => stop.TrySetResult(StopReason.TimedOut), null, timeout, Timeout.InfiniteTimeSpan);
        await using var onCancel = cancellationToken.Register(() => stop.TrySetResult(StopReason.Cancelled));
        _ = outputFailed.ContinueWith(_ => stop.TrySetResult(StopReason.OutputFailed), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        await Task.WhenAny(exited, stop.Task);
        // An exit that raced with the timer counts as an exit.
        return exited.IsCompleted ? null : await stop.Task;
    }

    /// <summary>INT, then TERM, then KILL to the whole group, each after a grace period, until the child exits.</summary>
    private async Task StopAsync(ProcessSpec spec, StopReason reason, Task exited, RunProcesses processes, OutputPump pump)
    {
        var why = reason switch
        {
            StopReason.TimedOut => $"Timed out after {Describe(spec.Timeout)}",
            StopReason.Cancelled => "Cancelled",
            _ => "The deploy's output could not be recorded",
        };

        Log.Stopping(logger, processes.GroupId, reason.ToString(), "SIGINT");
        pump.WriteHeaven($"{why}; sending SIGINT to the deploy's processes.");
        processes.SignalGroup(Posix.SigInt, childRunning: !exited.IsCompleted);
        if (await Waits.CompletesWithinAsync(exited, options.InterruptGrace, timeProvider))
        {
            return;
        }

        Log.Stopping(logger, processes.GroupId, reason.ToString(), "SIGTERM");
        pump.WriteHeaven($"Still running {Describe(options.InterruptGrace)} after SIGINT; sending SIGTERM.");
        processes.SignalGroup(Posix.SigTerm, childRunning: !exited.IsCompleted);
        if (await Waits.CompletesWithinAsync(exited, options.TerminateGrace, timeProvider))
        {
            return;
        }

        Log.Stopping(logger, processes.GroupId, reason.ToString(), "SIGKILL");
        pump.WriteHeaven($"Still running {Describe(options.TerminateGrace)} after SIGTERM; sending SIGKILL.");
        processes.SignalGroup(Posix.SigKill, childRunning: !exited.IsCompleted);
        if (!await Waits.CompletesWithinAsync(exited, options.KillWait, timeProvider))
        {
            // Stuck in the kernel (a dead NFS mount): report an unknown exit code rather than wait.
            Log.NotExiting(logger, processes.GroupId);
        }
    }

    /// <summary>
    /// A process whose working directory is inside a deployment's folder is a deploy process: it runs
    /// as the deploy user and/or in the sandbox, whichever this host allows, with that folder's private
    /// HOME and TMPDIR. Refused when isolation is required and impossible here.
    /// </summary>
    private async Task<(IsolationState State, string Workspace)?> IsolationOfAsync(ProcessSpec spec, CancellationToken cancellationToken)
    {
        if (isolation is null || workspaces?.FolderOf(spec.WorkingDirectory) is not { } workspace)
        {
            return null;
        }

        var state = await isolation.GetAsync(cancellationToken);
        if (state.Refusal is { } refusal)
        {
            throw new ProcessStartException(refusal);
        }

        return state.IsIsolated ? (state, workspace) : null;
    }

    private ProcessStartInfo CreateStartInfo(ProcessSpec spec, string program, string markerValue, (IsolationState State, string Workspace)? isolated)
    {
        var startInfo = new ProcessStartInfo(options.SetsidPath)
        {
            UseShellExecute = false,
            WorkingDirectory = spec.WorkingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };

        // "--" so that setsid takes nothing after it as its own option; the program is an absolute path.
        startInfo.ArgumentList.Add("--");
        if (isolated is { } run)
        {
            foreach (var argument in isolation!.Wrap(run.State, run.Workspace, spec.WorkingDirectory))
            {
                startInfo.ArgumentList.Add(argument);
            }
        }

        // .NET ignores SIGPIPE and a child inherits that: `yes | head` in a deploy script would print
        // "Broken pipe" and fail. Heaven started in the background by a non-interactive shell
        // (`heaven &`) inherits SIGINT and SIGQUIT ignored, and a script could then never trap the
        // SIGINT of a cancel. env (which execs, keeping the pid, inside the sandbox too) gives the
        // deploy the default disposition of all three, however Heaven itself was started.
        startInfo.ArgumentList.Add(options.EnvPath);
        startInfo.ArgumentList.Add("--default-signal=PIPE,INT,QUIT");
        startInfo.ArgumentList.Add("--");
        startInfo.ArgumentList.Add(program);
        foreach (var argument in spec.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // Exactly the given environment: Heaven's own (with its tokens and database URL) is not inherited.
        startInfo.Environment.Clear();
        foreach (var (name, value) in spec.Environment)
        {
            startInfo.Environment[name] = value;
        }

        if (isolated is { } own)
        {
            // Heaven's HOME and TMPDIR are not the deploy's: it gets the private ones of its folder.
            startInfo.Environment["HOME"] = Path.Combine(own.Workspace, "home");
            startInfo.Environment["TMPDIR"] = Path.Combine(own.Workspace, "tmp");
            if (own.State.User is { } user)
            {
                startInfo.Environment["USER"] = user.Name;
                startInfo.Environment["LOGNAME"] = user.Name;
            }
        }

        startInfo.Environment[RunMarkerVariable] = markerValue;
        return startInfo;
    }

    private static string Describe(TimeSpan duration) =>
        duration >= TimeSpan.FromMinutes(1) && duration.Seconds == 0 && duration.Milliseconds == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{(long)duration.TotalMinutes} min")
            : string.Create(CultureInfo.InvariantCulture, $"{duration.TotalSeconds:0.###} s");

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Started {Program} as process group {ProcessId}")]
        public static partial void Started(ILogger logger, int processId, string program);

        [LoggerMessage(Level = LogLevel.Information, Message = "Process group {ProcessId} finished: exit code {ExitCode}, {Outcome}, {DurationMs:0} ms")]
        public static partial void Finished(ILogger logger, int processId, int? exitCode, string outcome, double durationMs);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping process group {ProcessId} ({Reason}): sending {Signal}")]
        public static partial void Stopping(ILogger logger, int processId, string reason, string signal);

        [LoggerMessage(Level = LogLevel.Error, Message = "Process {ProcessId} did not exit after SIGKILL; its exit code is unknown")]
        public static partial void NotExiting(ILogger logger, int processId);

        [LoggerMessage(Level = LogLevel.Information, Message = "Process {ProcessId} exited but its output pipes are still open; stopping what holds them")]
        public static partial void PipesHeld(ILogger logger, int processId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "The output of process {ProcessId} is still held open by a process outside its group without its marker; reading abandoned")]
        public static partial void OutputAbandoned(ILogger logger, int processId);

        [LoggerMessage(Level = LogLevel.Information, Message = "Stopped {Count} leftover processes of process group {ProcessId}")]
        public static partial void LeftoversStopped(ILogger logger, int processId, int count);

        [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} output lines of process {ProcessId} were not recorded")]
        public static partial void LinesDropped(ILogger logger, int processId, int count);
    }
}
