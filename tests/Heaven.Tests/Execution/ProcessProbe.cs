using System.Diagnostics;

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

    /// <summary>True when the probe runs now or starts within <paramref name="timeout"/>.</summary>
    public async Task<bool> StartsWithinAsync(TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (Running().Count == 0)
        {
            if (watch.Elapsed > timeout)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }

    /// <summary>True when no probe process is alive, allowing a moment for the kernel to finish killing it.</summary>
    public async Task<bool> IsGoneAsync()
    {
        var watch = Stopwatch.StartNew();
        while (Running().Count > 0)
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(2))
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
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
