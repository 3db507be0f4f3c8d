using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Heaven.Configuration;

/// <summary>
/// Keeps the data directory private to Heaven's user: the directory and every directory in it
/// <c>0700</c>, every file without group or other permissions (<c>0600</c>, or <c>0700</c> for a
/// program). It holds the database, the webhook secret, the known hosts, the repositories' mirrors and
/// the deployments' logs: nothing another local user may read. Checked and repaired at every start,
/// because a directory made by an older Heaven, restored from a backup or created by hand may be wider.
/// </summary>
/// <remarks>
/// Symbolic links are never followed (what they point to is not Heaven's to change, and on Linux a
/// link has no mode of its own). Directories are made private before their entries are looked at, so
/// once a directory is checked nobody else can add to it. A socket (an ssh-agent's, under <c>ssh/</c>)
/// whose mode cannot be changed is left as it is: a socket holds no data, and its directory is private.
/// Anything else that cannot be made private (it belongs to another user, the file system is read-only)
/// stops the start, naming the path.
/// </remarks>
internal static partial class DataDirectoryModes
{
    public const UnixFileMode Directory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>More than this many paths are summed up in one line.</summary>
    private const int MaxListed = 5;

    /// <summary>Makes <paramref name="root"/> and everything in it private.</summary>
    /// <exception cref="StartupException">Something in it cannot be made private; the message names it.</exception>
    public static void Enforce(string root)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var problems = new List<string>();
        Walk(Resolved(root), problems, repair: true);
        if (problems.Count == 0)
        {
            return;
        }

        var listed = problems.Take(MaxListed).ToList();
        if (problems.Count > MaxListed)
        {
            listed.Add(string.Create(CultureInfo.InvariantCulture, $"... and {problems.Count - MaxListed} more."));
        }

        throw new StartupException(
            $"The data directory {root} must be private to Heaven's user (directories 0700, files 0600), and Heaven cannot make it so:\n" +
            string.Join("\n", listed.Select(p => "  " + p)) + "\n" +
            $"Give the directory and everything in it to the user Heaven runs as (chown -R), or point {Setting.Name(DataDirectory.Key)} at a directory of its own.");
    }

    /// <summary>
    /// What <see cref="Enforce"/> would have to change in <paramref name="root"/>, changing nothing: one
    /// line per path that is wider than private or not Heaven's user's (a check of an installation).
    /// </summary>
    public static IReadOnlyList<string> Inspect(string root)
    {
        var problems = new List<string>();
        if (OperatingSystem.IsWindows())
        {
            return problems;
        }

        var directory = Resolved(root);
        if (Status(directory.FullName) is { } status && status.OwnerId != EffectiveUserId())
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{directory.FullName} belongs to user id {status.OwnerId}, and Heaven runs as user id {EffectiveUserId()}."));
        }

        Walk(directory, problems, repair: false);
        return problems;
    }

    /// <summary>The configured path itself may be a link (/var/lib/heaven → /srv/heaven): that one is followed.</summary>
    private static DirectoryInfo Resolved(string root)
    {
        var directory = new DirectoryInfo(root);
        return directory.ResolveLinkTarget(returnFinalTarget: true) as DirectoryInfo ?? directory;
    }

    [UnsupportedOSPlatform("windows")]
    private static void Walk(DirectoryInfo directory, List<string> problems, bool repair)
    {
        if (!Restrict(directory.FullName, directory.UnixFileMode, Directory, problems, repair))
        {
            // Its entries are not looked at: the one line about the directory says what to fix.
            return;
        }

        IEnumerable<FileSystemInfo> entries;
        try
        {
            entries = directory.EnumerateFileSystemInfos("*", new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false, RecurseSubdirectories = false }).ToList();
        }
        catch (DirectoryNotFoundException)
        {
            // Removed meanwhile (a deployment's folder, while a command runs beside the server).
            return;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var owner = Owner(directory.FullName);
            problems.Add($"{directory.FullName} cannot be listed{(owner.Length > 0 ? owner : $" ({e.GetType().Name})")}.");
            return;
        }

        foreach (var entry in entries)
        {
            try
            {
                if (entry.LinkTarget is not null)
                {
                    continue;
                }

                if (entry is DirectoryInfo child)
                {
                    Walk(child, problems, repair);
                }
                else
                {
                    Restrict(entry.FullName, entry.UnixFileMode, entry.UnixFileMode & OwnerOnly, problems, repair);
                }
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                // Removed meanwhile (a deployment's folder, while a command runs beside the server).
            }
        }
    }

    /// <summary>Sets <paramref name="wanted"/> unless the mode is that already; false (and a problem) when it cannot.</summary>
    [UnsupportedOSPlatform("windows")]
    private static bool Restrict(string path, UnixFileMode mode, UnixFileMode wanted, List<string> problems, bool repair)
    {
        if (mode == wanted)
        {
            return true;
        }

        if (!repair)
        {
            if (Status(path) is not { IsSocket: true })
            {
                problems.Add($"{path} has mode {Octal(mode)}, not {Octal(wanted)}.");
            }

            // Looked into all the same: an inspection lists everything it finds.
            return true;
        }

        try
        {
            File.SetUnixFileMode(path, wanted);
            return true;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // Removed meanwhile: nothing left to protect.
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (Status(path) is { } status && status.IsSocket)
            {
                return true;
            }

            var owner = Owner(path);
            problems.Add($"{path} has mode {Octal(mode)} and cannot be made {Octal(wanted)}{(owner.Length > 0 ? owner : $" ({e.GetType().Name})")}.");
            return false;
        }
    }

    private static string Owner(string path) =>
        Status(path) is { } status && status.OwnerId != EffectiveUserId()
            ? string.Create(CultureInfo.InvariantCulture, $": it belongs to user id {status.OwnerId}, and Heaven runs as user id {EffectiveUserId()}")
            : "";

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');

    /// <summary>The owner and kind of <paramref name="path"/> itself (a link is not followed), or null when it cannot be read.</summary>
    private static (uint OwnerId, bool IsSocket)? Status(string path)
    {
        // statx's buffer has the same layout on every architecture (unlike stat's): stx_uid at 20, stx_mode at 28.
        Span<byte> buffer = stackalloc byte[256];
        try
        {
            if (Statx(AtCurrentDirectory, path, AtSymlinkNoFollow, StatxBasicStats, ref MemoryMarshal.GetReference(buffer)) != 0)
            {
                return null;
            }
        }
        catch (EntryPointNotFoundException)
        {
            // A C library without statx: sockets are then treated like files.
            return null;
        }

        var owner = BitConverter.ToUInt32(buffer[20..24]);
        var kind = BitConverter.ToUInt16(buffer[28..30]) & FileTypeMask;
        return (owner, kind == SocketType);
    }

    private static uint EffectiveUserId()
    {
        try
        {
            return GetEffectiveUserId();
        }
        catch (EntryPointNotFoundException)
        {
            return uint.MaxValue;
        }
    }

    private const int AtCurrentDirectory = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;
    private const int FileTypeMask = 0xF000;
    private const int SocketType = 0xC000;

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directory, string path, int flags, uint mask, ref byte buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();
}
