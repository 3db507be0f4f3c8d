using System.Runtime.InteropServices;

namespace Heaven.Execution;

/// <summary>
/// The libc calls .NET does not offer: <c>kill</c> with any signal (Process.Kill only sends SIGKILL,
/// and only to pids) and to a whole process group, <c>access</c> to check that the current user may
/// execute a file, the effective user, <c>lchown</c> to hand a deploy its folders, and <c>prctl</c> to
/// make Heaven's own process undumpable. Numbers are the same on every Linux architecture.
/// </summary>
internal static partial class Posix
{
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;

    private const int ExecuteOk = 1;
    private const int PrSetDumpable = 4;
    private const int PrGetDumpable = 3;

    /// <summary>Sends <paramref name="signal"/> to every process in process group <paramref name="groupId"/>. False when the group does not exist.</summary>
    public static bool SignalGroup(int groupId, int signal) =>
        // -1 and 0 would address every process we may signal, or our own group.
        groupId > 1 && Kill(-groupId, signal) == 0;

    /// <summary>Sends <paramref name="signal"/> to one process. False when it does not exist (any more).</summary>
    public static bool SignalProcess(int processId, int signal) => processId > 1 && Kill(processId, signal) == 0;

    public static bool CanExecute(string path) => Access(path, ExecuteOk) == 0;

    public static uint EffectiveUserId => GetEffectiveUserId();

    /// <summary>Changes a file's (or a link's own) owner. False with the errno when it fails.</summary>
    public static bool ChangeOwner(string path, int userId, int groupId, out int error)
    {
        var ok = LChown(path, userId, groupId) == 0;
        error = ok ? 0 : Marshal.GetLastPInvokeError();
        return ok;
    }

    /// <summary>
    /// Makes this process undumpable: processes of the same user can then neither read its
    /// <c>/proc/&lt;pid&gt;/environ</c> and memory nor attach to it. True when it holds.
    /// </summary>
    public static bool MakeUndumpable() => Prctl(PrSetDumpable, 0, 0, 0, 0) == 0 && Prctl(PrGetDumpable, 0, 0, 0, 0) == 0;

    /// <summary>Whether this process is dumpable (1) or not (0).</summary>
    public static int Dumpable => Prctl(PrGetDumpable, 0, 0, 0, 0);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LChown(string path, int owner, int group);

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Access(string path, int mode);
}
