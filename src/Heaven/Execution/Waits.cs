namespace Heaven.Execution;

/// <summary>Bounded waits: every wait of the process runner has an end, so a run always returns.</summary>
internal static class Waits
{
    /// <summary>True when <paramref name="task"/> completes within <paramref name="timeout"/>; never throws the task's exception.</summary>
    public static async Task<bool> CompletesWithinAsync(Task task, TimeSpan timeout, TimeProvider timeProvider)
    {
        if (task.IsCompleted)
        {
            return true;
        }

        using var delayCancel = new CancellationTokenSource();
        var delay = Task.Delay(timeout, timeProvider, delayCancel.Token);
        var first = await Task.WhenAny(task, delay);
        await delayCancel.CancelAsync();
        return first == task;
    }
}
