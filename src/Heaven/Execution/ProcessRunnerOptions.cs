namespace Heaven.Execution;

/// <summary>
/// How patiently the process runner stops a deploy. Constructor input so tests can use short periods;
/// the defaults give a script time to clean up after SIGINT (release a lock, roll back a symlink).
/// </summary>
public sealed record ProcessRunnerOptions
{
    /// <summary>After SIGINT to the process group, how long to wait for the deploy to exit before SIGTERM.</summary>
    public TimeSpan InterruptGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>After SIGTERM, how long to wait before SIGKILL.</summary>
    public TimeSpan TerminateGrace { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>After SIGKILL, how long to wait for the exit to be reported (a process stuck in the kernel may not die at once); then the exit code is unknown.</summary>
    public TimeSpan KillWait { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>After the deploy exited, how long its output may still flow before whatever holds the pipes open (a daemon it started) is stopped.</summary>
    public TimeSpan DrainAfterExit { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>When leftover processes are swept: how long between SIGTERM and SIGKILL.</summary>
    public TimeSpan SweepGrace { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>After the pipe holders were killed, how long to wait for end of output before the readers are abandoned.</summary>
    public TimeSpan AbandonOutputAfter { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>After the process is done, how long the output sink gets to take the lines still queued before they are dropped.</summary>
    public TimeSpan OutputFlushTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A line longer than this (in UTF-16 characters) is split, so output without newlines cannot grow without bound.</summary>
    public int MaxLineLength { get; init; } = 64 * 1024;

    /// <summary>util-linux <c>setsid</c>, which puts the child in its own session and process group before it runs the program.</summary>
    public string SetsidPath { get; init; } = "/usr/bin/setsid";

    /// <summary>GNU coreutils <c>env</c> (8.31 or newer), which restores the default SIGPIPE, SIGINT and SIGQUIT handling before it runs the program.</summary>
    public string EnvPath { get; init; } = "/usr/bin/env";

    internal void Validate()
    {
        Positive(InterruptGrace, nameof(InterruptGrace));
        Positive(TerminateGrace, nameof(TerminateGrace));
        Positive(KillWait, nameof(KillWait));
        Positive(DrainAfterExit, nameof(DrainAfterExit));
        Positive(SweepGrace, nameof(SweepGrace));
        Positive(AbandonOutputAfter, nameof(AbandonOutputAfter));
        Positive(OutputFlushTimeout, nameof(OutputFlushTimeout));
        if (MaxLineLength < 16)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxLineLength), MaxLineLength, "MaxLineLength must be at least 16 characters.");
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(SetsidPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(EnvPath);
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
        }
    }
}
