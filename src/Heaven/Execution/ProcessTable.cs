using System.Globalization;
using System.Text;

namespace Heaven.Execution;

/// <summary>
/// Finds the live processes of one run in /proc: those in its process group, and those carrying its
/// marker variable. The marker catches what left the group (a daemon that called setsid itself, as
/// Jenkins' ProcessTreeKiller does with BUILD_ID); a process that both left the group and scrubbed its
/// environment (<c>setsid env -i ...</c>) cannot be told apart from anyone else's and is not found.
/// Zombies are skipped: they are dead, only not yet reaped by their parent.
/// </summary>
internal static class ProcessTable
{
    public readonly record struct Member(int ProcessId, int GroupId);

    public static List<Member> FindRun(int groupId, string markerEntry)
    {
        var marker = Encoding.UTF8.GetBytes(markerEntry);
        return Find((pid, pgrp) => pgrp == groupId || HasEnvironmentEntry(pid, marker, prefix: false));
    }

    /// <summary>Live processes with an environment entry that starts with <paramref name="entryPrefix"/> (<c>NAME=value-start</c>).</summary>
    public static List<Member> FindByEnvironmentPrefix(string entryPrefix)
    {
        var marker = Encoding.UTF8.GetBytes(entryPrefix);
        return Find((pid, _) => HasEnvironmentEntry(pid, marker, prefix: true));
    }

    private static List<Member> Find(Func<int, int, bool> matches)
    {
        var self = Environment.ProcessId;
        var found = new List<Member>();
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateDirectories("/proc");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return found;
        }

        foreach (var entry in entries)
        {
            if (!int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == self)
            {
                continue;
            }

            if (TryReadStat(pid, out var state, out var pgrp) && state is not ('Z' or 'X')
                && matches(pid, pgrp))
            {
                found.Add(new Member(pid, pgrp));
            }
        }

        return found;
    }

    private static bool TryReadStat(int pid, out char state, out int groupId)
    {
        state = '?';
        groupId = 0;
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // gone meanwhile, or not ours to look at
        }

        // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses, so parse after the last ')'.
        var close = stat.LastIndexOf(')');
        if (close < 0 || close + 2 >= stat.Length)
        {
            return false;
        }

        var fields = stat[(close + 2)..].Split(' ', 4);
        if (fields.Length < 3 || fields[0].Length == 0 || !int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out groupId))
        {
            return false;
        }

        state = fields[0][0];
        return true;
    }

    private static bool HasEnvironmentEntry(int pid, byte[] entry, bool prefix)
    {
        byte[] environ;
        try
        {
            environ = File.ReadAllBytes($"/proc/{pid}/environ");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // another user's process, or gone meanwhile
        }

        // NUL-separated NAME=value entries; unless asked for a prefix, only an exact entry counts.
        ReadOnlySpan<byte> rest = environ;
        while (!rest.IsEmpty)
        {
            var end = rest.IndexOf((byte)0);
            var item = end < 0 ? rest : rest[..end];
            if (prefix ? item.StartsWith(entry) : item.SequenceEqual(entry))
            {
                return true;
            }

            rest = end < 0 ? [] : rest[(end + 1)..];
        }

        return false;
    }
}
