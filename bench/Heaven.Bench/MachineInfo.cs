using System.Runtime.InteropServices;

namespace Heaven.Bench;

/// <summary>The machine a result was measured on, as the results file records it.</summary>
internal static class MachineInfo
{
    public static IReadOnlyList<(string Name, string Value)> Describe() =>
    [
        ("CPUs (nproc)", Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("CPU model", FirstValue("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString()),
        ("Memory", Memory()),
        ("OS", $"{OsName()} (kernel {Environment.OSVersion.Version})"),
        (".NET", $"{RuntimeInformation.FrameworkDescription} ({RuntimeInformation.RuntimeIdentifier})"),
    ];

    private static string Memory()
    {
        var total = FirstValue("/proc/meminfo", "MemTotal");
        return total is not null && long.TryParse(total.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], out var kb)
            ? $"{kb / 1024.0 / 1024.0:0.0} GiB"
            : "unknown";
    }

    private static string OsName()
    {
        var pretty = FirstValue("/etc/os-release", "PRETTY_NAME", '=');
        return pretty?.Trim('"') ?? RuntimeInformation.OSDescription;
    }

    private static string? FirstValue(string file, string key, char separator = ':')
    {
        try
        {
            foreach (var line in File.ReadLines(file))
            {
                var at = line.IndexOf(separator, StringComparison.Ordinal);
                if (at > 0 && line[..at].Trim() == key)
                {
                    return line[(at + 1)..].Trim();
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }
}
