using System.Diagnostics;
using System.Runtime.InteropServices;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Execution;

/// <summary>
/// A uniquely named <c>sleep</c> a test script starts (<c>exec -a NAME sleep 300</c>), and a look at
/// /proc for whether it still runs. Zombies count as gone: they are dead, waiting for a reaper.
/// Disposing kills any survivor so a failing test leaves nothing behind.
/// </summary>
internal sealed class ProcessProbe : IDisposable
{
    public string Name { get; } = "heaven-test-" + Guid.NewGuid().ToString("N");

    /// <summary>A bash command that runs the probe in the foreground for <paramref name="seconds"/>.</summary>
    public string Sleep(int seconds = 300) => $"(exec -a {Name} sleep {seconds})";

    /// <summary>A bash command line (for <c>bash -c</c>) that becomes the probe.</summary>
    public string Exec(int seconds = 300) => $"exec -a {Name} sleep {seconds}";

    /// <summary>A bash command that waits until the process with the pid in <paramref name="pidVariable"/> has become the probe.</summary>
    public string AwaitExec(string pidVariable) =>
        $"until read -r -d '' argv0 < /proc/${pidVariable}/cmdline; [ \"$argv0\" = {Name} ]; do sleep 0.01; done";

    public List<int> Running()
    {
        var found = new List<int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid))
            {
                continue;
            }

            try
            {
                var argv0 = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0')[0];
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var state = stat[(stat.LastIndexOf(')') + 2)..][0];
                if (argv0 == Name && state != 'Z')
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return found;
    }

    /// <summary>Waits until the probe runs.</summary>
    public Task StartedAsync() => Poll.UntilAsync(() => Running().Count > 0, $"the probe {Name} to start");

    /// <summary>Waits until no probe process is alive (the kernel takes a moment to finish killing one).</summary>
    public Task GoneAsync() =>
        Poll.UntilAsync(() => Running().Count == 0, $"the probe {Name} to be gone", state: () => "Still running: " + string.Join(", ", Running()));

    /// <summary>
    /// True when the probe is alive and blocked writing into a full pipe: the reader at the other end
    /// is not taking what it writes.
    /// </summary>
    public bool BlockedOnAFullPipe() => Running() is [var pid] && IsBlockedWritingToAPipe(pid);

    private static bool IsBlockedWritingToAPipe(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            if (stat[(stat.LastIndexOf(')') + 2)..][0] != 'S')
            {
                return false;
            }

            // The kernel function it sleeps in: pipe_write (anon_pipe_write on newer kernels).
            if (File.ReadAllText($"/proc/{pid}/wchan").Contains("pipe_write", StringComparison.Ordinal))
            {
                return true;
            }

            // Where wchan is hidden: the system call it sleeps in is write(2).
            var write = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "64" : "1";
            return File.ReadAllText($"/proc/{pid}/syscall").Split(' ')[0] == write;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        foreach (var pid in Running())
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill();
            }
            catch (ArgumentException)
            {
            }
            catch (InvalidOperationException)
            {
            }
        }
    }
}
