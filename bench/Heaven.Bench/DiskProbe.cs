using System.Diagnostics;

namespace Heaven.Bench;

/// <summary>
/// How long the data directory's disk takes to make a small append durable (write + fsync), the price
/// SQLite's synchronous=FULL pays on every commit. On shared or virtual disks it varies widely, so the
/// report gives it beside the results.
/// </summary>
internal static class DiskProbe
{
    public sealed record Result(double P50Ms, double P99Ms);

    public static Result Measure(string directory, int samples = 100)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"fsync-probe-{Guid.NewGuid():N}");
        var block = new byte[16 * 1024];
        var times = new List<double>(samples);
        try
        {
            using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1);
            for (var i = 0; i < samples; i++)
            {
                var start = Stopwatch.GetTimestamp();
                file.Write(block);
                file.Flush(flushToDisk: true);
                times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }
        finally
        {
            File.Delete(path);
        }

        times.Sort();
        return new Result(times[(samples / 2) - 1], times[Math.Max(0, (int)Math.Ceiling(samples * 0.99) - 1)]);
    }
}
