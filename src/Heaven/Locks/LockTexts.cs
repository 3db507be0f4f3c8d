namespace Heaven.Locks;

/// <summary>The original Heaven's words for locks, and ours where it had none. GitHub keeps 140 characters.</summary>
public static class LockTexts
{
    private const int MaxDescription = 140;

    public static string Locked(string repository, string environment, string user) => $"{repository} locked on {environment} by {user}";

    public static string Unlocked(string repository, string environment, string user) => $"{repository} unlocked on {environment} by {user}";

    public static string IsLocked(string repository, string environment, string user, string? reason) =>
        WithReason($"{repository} is locked on {environment} by {user}", reason);

    public static string AlreadyLocked(string repository, string environment, string user, string? reason) =>
        WithReason($"{repository} is already locked on {environment} by {user}", reason);

    /// <summary>Appends ": reason" when there is one, cut so the whole fits GitHub's 140 characters.</summary>
    private static string WithReason(string text, string? reason)
    {
        if (string.IsNullOrWhiteSpace(reason) || text.Length + 2 >= MaxDescription)
        {
            return text;
        }

        var full = $"{text}: {reason.Trim()}";
        return full.Length <= MaxDescription ? full : string.Concat(full.AsSpan(0, MaxDescription - 1), "…");
    }
}
