using System.Runtime.InteropServices;

namespace Heaven.Execution;

/// <summary>
/// The two libc calls .NET does not offer: <c>kill</c> with any signal (Process.Kill only sends
/// SIGKILL, and only to pids) and to a whole process group, and <c>access</c> to check that the
/// current user may execute a file. Signal numbers are the same on every Linux architecture.
/// </summary>
internal static partial class Posix
{
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;

    private const int ExecuteOk = 1;

    /// <summary>Sends <paramref name="signal"/> to every process in process group <paramref name="groupId"/>. False when the group does not exist.</summary>
    public static bool SignalGroup(int groupId, int signal) =>
        // -1 and 0 would address every process we may signal, or our own group.
        groupId > 1 && Kill(-groupId, signal) == 0;

    /// <summary>Sends <paramref name="signal"/> to one process. False when it does not exist (any more).</summary>
    public static bool SignalProcess(int processId, int signal) => processId > 1 && Kill(processId, signal) == 0;

    public static bool CanExecute(string path) => Access(path, ExecuteOk) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Access(string path, int mode);
}
