namespace Heaven.Execution;

/// <summary>
/// The base environment of a deploy: an allow-list taken from Heaven's own environment. Heaven's
/// environment holds its secrets (GITHUB_TOKEN, DATABASE_URL, HEROKU_API_KEY, AWS_*, ...); a deploy
/// script is other people's code and gets none of them unless a provider adds one on purpose.
/// </summary>
public static class ChildEnvironment
{
    /// <summary>Used when Heaven itself has no PATH (some init systems start services with none).</summary>
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>Tools that colour or page their output (git, ansible) stay plain when they see a dumb terminal.</summary>
    public const string Terminal = "dumb";

    private static readonly string[] Passed =
    [
        "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME", "SHELL", "TMPDIR",
        // git, curl, bundler and pip need the proxy to reach anything from behind one; both spellings are in use.
        "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
    ];

    /// <summary>The allow-listed part of Heaven's own environment, in a new dictionary the caller adds deploy variables to.</summary>
    public static Dictionary<string, string> FromCurrentProcess() => Build(Environment.GetEnvironmentVariable);

    /// <summary>The allow-listed part of <paramref name="source"/>, in a new dictionary the caller adds deploy variables to.</summary>
    public static Dictionary<string, string> Build(IReadOnlyDictionary<string, string?> source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Build(name => source.TryGetValue(name, out var value) ? value : null);
    }

    private static Dictionary<string, string> Build(Func<string, string?> lookup)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in Passed)
        {
            if (lookup(name) is { Length: > 0 } value)
            {
                environment[name] = value;
            }
        }

        environment.TryAdd("PATH", DefaultPath);
        environment["TERM"] = Terminal;
        return environment;
    }
}
