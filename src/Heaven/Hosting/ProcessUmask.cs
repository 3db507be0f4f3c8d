using System.Runtime.InteropServices;

namespace Heaven.Hosting;

/// <summary>
/// Heaven's file-creation mask: 077, so everything Heaven creates (the SQLite database and its
/// journal, the generated webhook secret, known_hosts, the mirrors, temporary files) is readable by its
/// own user only from the moment it exists. .NET and SQLite create files 0666 and directories 0777
/// less the mask; with the usual 022 they would be readable by every local user until the next start
/// repaired them (<see cref="Configuration.DataDirectoryModes"/>).
/// </summary>
/// <remarks>
/// The mask is the process's, so the programs Heaven starts inherit it: a deploy that must create files
/// others can read sets its own (<c>umask 022</c> in its script).
/// </remarks>
internal static partial class ProcessUmask
{
    /// <summary>Group and other: no permission at all.</summary>
    public const uint Private = 0x3F;

    public static void Restrict()
    {
        if (!OperatingSystem.IsWindows())
        {
            _ = SetUmask(Private);
        }
    }

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint SetUmask(uint mask);
}
