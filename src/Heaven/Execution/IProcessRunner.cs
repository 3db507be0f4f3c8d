using Heaven.Model;

namespace Heaven.Execution;

/// <summary>
/// One program to run: an argument vector (never a shell string built from payload fields), a working
/// directory, and the complete environment the child gets (nothing is inherited beyond it).
/// </summary>
public sealed record ProcessSpec(
    string FileName,
    IReadOnlyList<string> Arguments,
    string WorkingDirectory,
    IReadOnlyDictionary<string, string> Environment,
    TimeSpan Timeout);

/// <summary>How a process run ended.</summary>
public sealed record ProcessResult(int? ExitCode, bool TimedOut, bool Cancelled, TimeSpan Duration)
{
    public bool Succeeded => ExitCode == 0 && !TimedOut && !Cancelled;
}

/// <summary>
/// Runs a child with stdin closed, in its own process group, streaming stdout and stderr line by line;
/// on timeout or cancellation stops the whole tree (INT, TERM, KILL) and returns even when a
/// grandchild keeps the pipes open. Nothing the child started is left running when it returns.
/// </summary>
public interface IProcessRunner
{
    /// <summary>Cancelling <paramref name="cancellationToken"/> stops the tree and returns a result with <see cref="ProcessResult.Cancelled"/>.</summary>
    Task<ProcessResult> RunAsync(ProcessSpec spec, IOutputSink output, CancellationToken cancellationToken);

    /// <summary>
    /// Stops (TERM, then KILL) every process whose <c>HEAVEN_RUN_OWNER</c> starts with
    /// <paramref name="ownerPrefix"/>: what a killed Heaven left running. Returns how many it found.
    /// Then deletes the deployment folders that run left behind.
    /// </summary>
    Task<int> StopOrphansAsync(string ownerPrefix, CancellationToken cancellationToken);
}
