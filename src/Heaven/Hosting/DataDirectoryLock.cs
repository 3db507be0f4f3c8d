using Heaven.Configuration;

namespace Heaven.Hosting;

/// <summary>
/// One running server per data directory. The directory names the node (its id, its deploys' process
/// marks, its outbox leases): a second server on it would take the first's running deployments for
/// ones a crash left behind, and stop them. Held from start to stop as an exclusive lock on
/// <c>server.lock</c>; the operator commands (<c>heaven locks</c>, …) do not take it. Several nodes
/// each have a data directory of their own and share a database.
/// </summary>
internal sealed class DataDirectoryLock(DataDirectory dataDirectory) : IHostedService, IDisposable
{
    public const string FileName = "server.lock";

    /// <summary>The holder's process id, beside the lock (a locked file cannot be read by the one refused).</summary>
    public const string PidFileName = "server.pid";

    private FileStream? held;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var path = dataDirectory.PathOf(FileName);
        try
        {
            // FileShare.None is an exclusive advisory lock (flock) on Unix, released by the kernel if
            // the process dies, so a crash never leaves the directory locked.
            held = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            var owner = TryRead(dataDirectory.PathOf(PidFileName));
            throw new StartupException(
                $"Another Heaven server{(owner is null ? "" : $" (process {owner})")} is running with the data directory {dataDirectory.FullPath}. " +
                "Each server needs a data directory of its own; to run several nodes, give each its own directory and share one PostgreSQL database.");
        }

        try
        {
            File.WriteAllText(dataDirectory.PathOf(PidFileName), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Only the refusal message of a second server would miss the process id.
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        held?.Dispose();
        held = null;
    }

    private static string? TryRead(string path)
    {
        try
        {
            var text = File.ReadAllText(path).Trim();
            return text.Length is > 0 and < 12 && text.All(char.IsAsciiDigit) ? text : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
