using Microsoft.Extensions.Configuration.Memory;

namespace Heaven.Configuration;

/// <summary>
/// Secrets read from files: for every secret setting <c>X</c> (<see cref="SecretSettings.FileKeys"/>),
/// <c>XFile</c> names a file that holds its value (<c>GitHub:TokenFile</c>, or <c>GITHUB_TOKEN_FILE</c>
/// for the original's variable). A secret in a file stays out of the process's arguments, which every
/// local user sees in <c>ps</c>, out of shell history, and out of the environment that tools dump;
/// it is how container platforms hand secrets over.
/// </summary>
/// <remarks>
/// The file's content, without its final line break, becomes <c>X</c>, so everything that reads <c>X</c>
/// (the settings classes, the masker) sees it like any other value. Setting both <c>X</c> and <c>XFile</c>
/// is a mistake the start refuses, as is a file that cannot be read or is empty. Messages name the
/// setting and the path, never what the file holds.
/// </remarks>
internal static class SecretFiles
{
    public const string Suffix = "File";

    /// <summary>
    /// Reads the files named by the configuration and adds their values as the last (strongest) source.
    /// Does nothing the second time (a command builds its masker before Heaven is built).
    /// </summary>
    /// <exception cref="StartupException">A file is missing, unreadable or empty, or a secret is set both ways; one line each.</exception>
    public static void Apply(IConfigurationBuilder configuration)
    {
        if (configuration.Sources.OfType<Source>().Any())
        {
            return;
        }

        var current = configuration as IConfiguration ?? configuration.Build();
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var problems = new List<string>();
        foreach (var key in SecretSettings.FileKeys)
        {
            var fileKey = key + Suffix;
            var path = current[fileKey];
            if (string.IsNullOrWhiteSpace(path))
            {
                continue;
            }

            if (!string.IsNullOrEmpty(current[key]))
            {
                problems.Add($"{Setting.Name(key)} and {Setting.Name(fileKey)} are both set: set one of them (the file is the way that keeps the secret out of arguments and the environment).");
                continue;
            }

            if (Read(path.Trim(), out var problem) is { } value)
            {
                values[key] = value;
            }
            else
            {
                problems.Add($"{Setting.Name(fileKey)} is '{path.Trim()}', {problem}.");
            }
        }

        if (problems.Count > 0)
        {
            throw new StartupException(string.Join("\n", problems));
        }

        configuration.Add(new Source { InitialData = values });
    }

    /// <summary>The file's text without its final line break(s), or null and why not.</summary>
    private static string? Read(string path, out string? problem)
    {
        problem = null;
        string text;
        try
        {
            if (Directory.Exists(path))
            {
                problem = "which is a directory, not a file";
                return null;
            }

            text = File.ReadAllText(Path.GetFullPath(path));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            problem = "which does not exist";
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            problem = "which Heaven may not read (check its owner and mode)";
            return null;
        }
        catch (Exception e) when (e is IOException or ArgumentException or NotSupportedException)
        {
            // The exception's kind only: its message is about the path, never the content, but says nothing more.
            problem = $"which cannot be read ({e.GetType().Name})";
            return null;
        }

        var value = text.TrimEnd('\r', '\n');
        if (value.Length == 0)
        {
            problem = "which is empty";
            return null;
        }

        return value;
    }

    /// <summary>The values read from files; its type marks that the files were read.</summary>
    private sealed class Source : MemoryConfigurationSource;
}
