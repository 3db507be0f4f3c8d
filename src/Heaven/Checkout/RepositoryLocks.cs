using System.Collections.Concurrent;

namespace Heaven.Checkout;

/// <summary>
/// The per-repository lock around a mirror's fetch and worktree bookkeeping: a semaphore for the
/// deployments of this process, then an exclusive lock file for other Heaven processes sharing the
/// data directory. Two fetches into one bare repository at once can fail on ref locks or, worse,
/// race a prune; worktree add and prune write the same administrative folder.
/// </summary>
internal sealed class RepositoryLocks(TimeProvider timeProvider)
{
    public const string LockFileName = "heaven.lock";

    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan LongestRetry = TimeSpan.FromSeconds(1);

    // One semaphore per repository, kept for the life of the process: there are only as many as repositories.
    private readonly ConcurrentDictionary<string, SemaphoreSlim> gates = new(StringComparer.Ordinal);

    /// <summary>Holds the lock for <paramref name="key"/>, whose mirror folder is <paramref name="directory"/>, until disposed.</summary>
    /// <exception cref="TimeoutException">not obtained within <paramref name="wait"/>.</exception>
    public async Task<IDisposable> AcquireAsync(string key, string directory, TimeSpan wait, CancellationToken cancellationToken)
    {
        var started = timeProvider.GetTimestamp();
        var gate = gates.GetOrAdd(key, _ => new SemaphoreSlim(1, 1));
        if (!await gate.WaitAsync(wait, cancellationToken))
        {
            throw new TimeoutException();
        }

        try
        {
            Directory.CreateDirectory(directory);
            var path = Path.Combine(directory, LockFileName);
            var delay = FirstRetry;
            while (true)
            {
                try
                {
                    // FileShare.None is an exclusive flock(2) on Unix: held until the handle closes,
                    // released by the kernel if the process dies, so a crash never leaves it stuck.
                    // The file itself stays: deleting it would let two processes lock different files.
                    var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
                    return new Held(gate, file);
                }
                catch (IOException e) when (e is not (DirectoryNotFoundException or FileNotFoundException or PathTooLongException))
                {
                    var left = wait - timeProvider.GetElapsedTime(started);
                    if (left <= TimeSpan.Zero)
                    {
                        throw new TimeoutException();
                    }

                    await Task.Delay(delay < left ? delay : left, timeProvider, cancellationToken);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, LongestRetry.Ticks));
                }
            }
        }
        catch
        {
            gate.Release();
            throw;
        }
    }

    private sealed class Held(SemaphoreSlim gate, FileStream file) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
            {
                file.Dispose();
                gate.Release();
            }
        }
    }
}
