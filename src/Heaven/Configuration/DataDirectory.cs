namespace Heaven.Configuration;

/// <summary>
/// The folder Heaven keeps its state in (<c>DataDirectory</c> or <c>HEAVEN_DATA_DIR</c>, default <c>./data</c>):
/// the SQLite database, the generated webhook secret, the git mirrors, the known hosts. Private to
/// Heaven's user: 0700, its files 0600.
/// </summary>
public sealed class DataDirectory
{
    public const string Key = "DataDirectory";
    public const string DefaultPath = "data";

    public DataDirectory(string fullPath) => FullPath = fullPath;

    public string FullPath { get; }

    public string PathOf(string name) => Path.Combine(FullPath, name);

    /// <summary>
    /// Resolves the configured folder against the working directory, creates it, and makes it and
    /// everything in it private to Heaven's user (<see cref="DataDirectoryModes"/>).
    /// </summary>
    public static DataDirectory Prepare(IConfiguration configuration)
    {
        var fullPath = FullPathOf(configuration);
        try
        {
            if (!Directory.Exists(fullPath))
            {
                var created = OperatingSystem.IsWindows()
                    ? Directory.CreateDirectory(fullPath)
                    : Directory.CreateDirectory(fullPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                _ = created;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"{LegacyEnvironmentVariables.Describe(Key)} is '{fullPath}', which cannot be created: {e.Message}");
        }

        DataDirectoryModes.Enforce(fullPath);
        return new DataDirectory(fullPath);
    }

    /// <summary>The configured folder resolved against the working directory; nothing is created.</summary>
    public static string FullPathOf(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var configured = configuration[Key];
        return Path.GetFullPath(string.IsNullOrWhiteSpace(configured) ? DefaultPath : configured);
    }

    /// <summary>Whether a file can be created here right now (a health check).</summary>
    public bool IsWritable(out string? problem)
    {
        var probe = PathOf($".write-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllText(probe, "ok");
            File.Delete(probe);
            problem = null;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"data directory {FullPath} is not writable: {e.Message}";
            return false;
        }
    }
}

/// <summary>A problem that stops Heaven from starting; its message is shown to the operator as it is.</summary>
public sealed class StartupException(string message) : Exception(message);
