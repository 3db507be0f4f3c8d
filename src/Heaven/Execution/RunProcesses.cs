namespace Heaven.Execution;

/// <summary>
/// Everything one run started: the child's process group (the child is its leader, through setsid)
/// plus whatever carries the run's marker variable.
/// </summary>
internal sealed class RunProcesses(int groupId, Func<List<ProcessTable.Member>> find, TimeProvider timeProvider)
{
    public RunProcesses(int groupId, string markerEntry, TimeProvider timeProvider)
        : this(groupId, () => ProcessTable.FindRun(groupId, markerEntry), timeProvider)
    {
    }

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);
    private const int KillRounds = 20;

    public int GroupId => groupId;

    /// <summary>
    /// The processes a previous run of this node left behind (Heaven was killed while they ran): every
    /// live process whose <see cref="ProcessRunner.RunOwnerVariable"/> starts with <paramref name="ownerPrefix"/>.
    /// </summary>
    public static RunProcesses Orphans(string ownerPrefix, TimeProvider timeProvider) =>
        new(0, () => ProcessTable.FindByEnvironmentPrefix($"{ProcessRunner.RunOwnerVariable}={ownerPrefix}"), timeProvider);

    /// <summary>Signals the whole process group while the child still runs.</summary>
    public void SignalGroup(int signal, bool childRunning)
    {
        if (!Posix.SignalGroup(groupId, signal) && childRunning)
        {
            // No such group yet: the child is still between fork and setsid(), so it has no children either.
            Posix.SignalProcess(groupId, signal);
        }
    }

    /// <summary>
    /// Stops every process of the run that is still alive: SIGTERM, <paramref name="grace"/> to exit,
    /// then SIGKILL until none is found (rounds, because a dying process may still fork). Returns how
    /// many distinct processes were found. Signals the group only when /proc shows a live member, so
    /// a group id whose processes are all gone is never signalled.
    /// </summary>
    public async Task<int> SweepAsync(TimeSpan grace)
    {
        var seen = new HashSet<int>();
        var found = find();
        if (found.Count > 0)
        {
            // A process killed a moment ago (with the group) closes its pipes before it turns into a
            // zombie: look again after a moment, so it is not reported as left running.
            await Task.Delay(PollInterval, timeProvider);
            found = find();
        }

        if (found.Count == 0)
        {
            return 0;
        }

        Signal(found, Posix.SigTerm, seen);
        var termSent = timeProvider.GetTimestamp();
        while (timeProvider.GetElapsedTime(termSent) < grace)
        {
            await Task.Delay(PollInterval, timeProvider);
            found = find();
            if (found.Count == 0)
            {
                return seen.Count;
            }

            // Processes forked since the first look get their SIGTERM too.
            Signal(found.Where(p => !seen.Contains(p.ProcessId)).ToList(), Posix.SigTerm, seen);
        }

        for (var round = 0; round < KillRounds && found.Count > 0; round++)
        {
            Signal(found, Posix.SigKill, seen);
            await Task.Delay(PollInterval, timeProvider);
            found = find();
        }

        return seen.Count;
    }

    private void Signal(List<ProcessTable.Member> processes, int signal, HashSet<int> seen)
    {
        // Group 0 stands for "no group" (orphans): kill(-0) would signal Heaven's own group.
        if (groupId > 0 && processes.Any(p => p.GroupId == groupId))
        {
            Posix.SignalGroup(groupId, signal);
        }

        foreach (var process in processes)
        {
            seen.Add(process.ProcessId);
            Posix.SignalProcess(process.ProcessId, signal);
        }
    }
}
