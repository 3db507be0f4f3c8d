using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Heaven.Tests.Infrastructure;

namespace Heaven.Bench.Deploy;

/// <summary>Percentiles and formatting.</summary>
internal static class Stats
{
    /// <summary>Nearest-rank percentile (p50 of 100 values is the 50th smallest).</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    public static double Median(IReadOnlyList<double> values) => Percentile(values, 50);

    public static string Ms(double value) => value.ToString("0.0", CultureInfo.InvariantCulture) + " ms";

    /// <summary>A difference, signed: "+12.0 ms", "−3.5 ms".</summary>
    public static string SignedMs(double value) => (value < 0 ? "−" : "+") + Ms(Math.Abs(value));

    public static string S(double seconds) => seconds.ToString("0.00", CultureInfo.InvariantCulture) + " s";

    public static string MB(double bytes) => (bytes / (1024 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + " MB";

    public static string Rate(double bytesPerSecond) => (bytesPerSecond / (1024 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + " MB/s";

    public static string Times(double ratio) => ratio.ToString("0.00", CultureInfo.InvariantCulture) + "×";

    public static string Met(bool met) => met ? "**met**" : "**not met**";
}

/// <summary>What the fake GitHub heard about one deployment.</summary>
internal sealed record DeployTimes(long GitHubId, DateTimeOffset Sent, DateTimeOffset Accepted, DateTimeOffset InProgress, DateTimeOffset Final, string FinalState, string? Description)
{
    public double AcceptedToFinalMs => (Final - Accepted).TotalMilliseconds;

    public double AcceptedToInProgressMs => (InProgress - Accepted).TotalMilliseconds;

    public double InProgressToFinalMs => (Final - InProgress).TotalMilliseconds;
}

internal static class Deployments
{
    private static readonly string[] FinalStates = ["success", "failure", "error"];

    /// <summary>Sends the webhook; returns the moments it was sent and accepted (the 202 arrived).</summary>
    public static async Task<(long GitHubId, DateTimeOffset Sent, DateTimeOffset Accepted)> SendAsync(HeavenServer server, BenchRepository repository, string script, string environment)
    {
        var (body, id) = repository.Webhook(script, environment);
        var sent = DateTimeOffset.UtcNow;
        using var response = await server.SendDeploymentAsync(body);
        return (id, sent, DateTimeOffset.UtcNow);
    }

    /// <summary>
    /// Waits for the final status of a deployment, looking every <paramref name="lookEvery"/> (2 ms by
    /// default); times are when the fake GitHub received the statuses, however often it looks.
    /// </summary>
    public static async Task<DeployTimes> WaitAsync(FakeGitHub gitHub, long id, DateTimeOffset sent, DateTimeOffset accepted, TimeSpan timeout, TimeSpan? lookEvery = null)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var statuses = gitHub.StatusesFor(BenchRepository.FullName, id);
            var final = statuses.FirstOrDefault(s => FinalStates.Contains(s.State));
            if (final is not null)
            {
                var started = statuses.FirstOrDefault(s => s.State is "in_progress" or "pending");
                return new DeployTimes(id, sent, accepted, started?.At ?? final.At, final.At, final.State, final.Description);
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"deployment {id}: no final status within {timeout.TotalSeconds} s; statuses: {string.Join(", ", statuses.Select(s => s.State))}");
            }

            await Task.Delay(lookEvery ?? TimeSpan.FromMilliseconds(2));
        }
    }

    public static async Task<DeployTimes> DeployAsync(HeavenServer server, FakeGitHub gitHub, BenchRepository repository, string script, string environment, TimeSpan? timeout = null)
    {
        var (id, sent, accepted) = await SendAsync(server, repository, script, environment);
        return await WaitAsync(gitHub, id, sent, accepted, timeout ?? TimeSpan.FromSeconds(60));
    }

    public static void EnsureSucceeded(IEnumerable<DeployTimes> deploys)
    {
        var failed = deploys.Where(d => d.FinalState != "success").ToList();
        if (failed.Count > 0)
        {
            throw new InvalidOperationException($"{failed.Count} deployments did not succeed, e.g. {failed[0].GitHubId}: {failed[0].FinalState}: {failed[0].Description}");
        }
    }
}

/// <summary>Runs a script directly (through setsid, as Heaven's process runner does), its output read and discarded.</summary>
internal static class DirectRun
{
    public static async Task<(TimeSpan Took, long Stdout, long Stderr)> RunAsync(string script, string workingDirectory)
    {
        var info = new ProcessStartInfo("/usr/bin/setsid")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("--");
        info.ArgumentList.Add(script);
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = Drain(process.StandardOutput.BaseStream);
        var stderr = Drain(process.StandardError.BaseStream);
        await process.WaitForExitAsync();
        return (watch.Elapsed, await stdout, await stderr);
    }

    private static async Task<long> Drain(Stream stream)
    {
        var buffer = new byte[64 * 1024];
        long total = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            total += read;
        }

        return total;
    }
}

internal static class Machine
{
    /// <summary>
    /// Other work on the machine (a build, another benchmark) distorts every number here: waits, up to
    /// <paramref name="patience"/>, for a second in which the CPUs are at most 15% busy. Returns the
    /// share of CPU time that was busy in the last second measured.
    /// </summary>
    public static async Task<double> WaitForQuietAsync(TimeSpan patience)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        var said = false;
        while (true)
        {
            var (busy0, total0) = CpuTicks();
            await Task.Delay(1000);
            var (busy1, total1) = CpuTicks();
            var busy = total1 == total0 ? 0 : (double)(busy1 - busy0) / (total1 - total0);
            if (busy <= 0.15 || waited.Elapsed > patience)
            {
                return busy;
            }

            if (!said)
            {
                Console.Error.WriteLine($"  the machine is {busy:P0} busy; waiting up to {patience.TotalSeconds:0} s for it to be quiet");
                said = true;
            }
        }
    }

    /// <summary>CPU ticks of the machine (busy, all) and of this process's tree: itself plus its waited-for children, the servers among them.</summary>
    public static (long Busy, long Total, long Own) Snapshot()
    {
        var (busy, total) = CpuTicks();
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // utime, stime, cutime, cstime: the 14th to 17th fields.
        var own = Enumerable.Range(11, 4).Sum(i => long.Parse(fields[i], CultureInfo.InvariantCulture));
        return (busy, total, own);
    }

    /// <summary>The share of all CPUs used by processes outside this benchmark between two snapshots.</summary>
    public static double OthersShare((long Busy, long Total, long Own) before, (long Busy, long Total, long Own) after)
    {
        var total = after.Total - before.Total;
        return total <= 0 ? 0 : Math.Max(0, (double)(after.Busy - before.Busy - (after.Own - before.Own)) / total);
    }

    /// <summary>The kernel's 1, 5 and 15 minute load averages, as uptime prints them.</summary>
    public static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    private static (long Busy, long Total) CpuTicks()
    {
        // cpu  user nice system idle iowait irq softirq steal ...
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var total = fields.Take(8).Sum();
        var idle = fields[3] + fields[4];
        return (total - idle, total);
    }

    public static IEnumerable<string> Describe()
    {
        yield return $"- CPUs (nproc): {Environment.ProcessorCount}";
        yield return $"- CPU model: {CpuModel()}";
        yield return $"- Memory: {MemTotal()}";
        yield return $"- OS: {OsName()} (kernel {Run("uname", "-r")})";
        yield return $"- .NET: {RuntimeInformation.FrameworkDescription} (SDK {Run("dotnet", "--version")}); the server runs with server GC (heaven.runtimeconfig.json)";
        yield return $"- git: {Run("git", "--version")}; storage: SQLite (WAL, synchronous=FULL) in a temporary folder under {Path.GetTempPath()}";
    }

    private static string CpuModel() =>
        File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";

    private static string MemTotal()
    {
        var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        var kb = long.Parse(line.Split(':', 2)[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return (kb / 1024.0 / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " GiB";
    }

    private static string OsName() =>
        File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?["PRETTY_NAME=".Length..].Trim('"') ?? RuntimeInformation.OSDescription
            : RuntimeInformation.OSDescription;

    private static string Run(string program, string argument)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(program, [argument]) { RedirectStandardOutput = true, UseShellExecute = false })!;
            var text = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return text;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return "unknown";
        }
    }
}
