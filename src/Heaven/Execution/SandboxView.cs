using Heaven.Configuration;
using Microsoft.Extensions.Options;

namespace Heaven.Execution;

/// <summary>
/// What a sandboxed deploy sees of the host: the system read-only (programs, libraries, <c>/etc</c>,
/// <c>/var</c>, <c>/opt</c>), its own <c>/proc</c> (its own PID namespace: Heaven's processes are not
/// there), a private <c>/dev</c> and <c>/tmp</c>, its own deployment folder writable, the network.
/// Not there at all: Heaven's data directory, its configuration and installation folders, the files
/// named by <c>*File</c> settings, Heaven's HOME, other users' homes, other deployments' folders.
/// </summary>
public sealed class SandboxView
{
    private static readonly string[] SystemPaths = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/var", "/srv", "/nix", "/run/systemd/resolve"];

    private readonly IReadOnlyList<string> hidden;
    private readonly IsolationOptions options;

    public SandboxView(IConfiguration configuration, DataDirectory data, IHostEnvironment? host, IOptions<IsolationOptions> options)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        this.options = options.Value;
        var candidates = new List<string?>
        {
            data.FullPath,
            host?.ContentRootPath,
            AppContext.BaseDirectory,
            Environment.GetEnvironmentVariable("HOME"),
        };
        // Secrets kept in files (GitHub:TokenFile, ...) and any other file a setting names.
        candidates.AddRange(configuration.AsEnumerable()
            .Where(e => e.Key.EndsWith("File", StringComparison.OrdinalIgnoreCase) && e.Value is { Length: > 0 } v && Path.IsPathFullyQualified(v))
            .Select(e => e.Value));
        hidden = candidates.OfType<string>()
            .Where(p => p.Length > 0 && Path.IsPathFullyQualified(p))
            .Select(p => Path.TrimEndingDirectorySeparator(Path.GetFullPath(p)))
            .Where(p => p != "/")
            .Distinct(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>What is hidden from a sandboxed deploy: not mounted, or covered where it is inside a mounted system folder.</summary>
    public IReadOnlyList<string> Hidden => hidden;

    /// <summary>bubblewrap's arguments up to and including <c>--</c>.</summary>
    internal List<string> Arguments(string workspace, string workingDirectory, bool runsAsRoot)
    {
        var arguments = new List<string>
        {
            // Not --new-session: the deploy stays in the process group Heaven signals (INT, TERM, KILL);
            // it has no controlling terminal to abuse anyway, as setsid started it without one.
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        };
        if (runsAsRoot)
        {
            // A sandbox without a user switch, started by root: root in a namespace of its own, without capabilities.
            arguments.AddRange(["--unshare-user", "--cap-drop", "ALL"]);
        }

        foreach (var path in SystemPaths)
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is { } target)
            {
                arguments.AddRange(["--symlink", target, path]);
            }
            else if (Directory.Exists(path))
            {
                arguments.AddRange(["--ro-bind", path, path]);
            }
        }

        arguments.AddRange(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
        foreach (var path in hidden.Where(p => IsUnder(p, SystemPaths)))
        {
            if (Directory.Exists(path))
            {
                arguments.AddRange(["--tmpfs", path]);
            }
            else if (File.Exists(path))
            {
                arguments.AddRange(["--ro-bind", "/dev/null", path]);
            }
        }

        foreach (var path in options.SandboxReadOnlyPaths)
        {
            arguments.AddRange(["--ro-bind-try", path, path]);
        }

        foreach (var path in options.SandboxWritablePaths)
        {
            arguments.AddRange(["--bind-try", path, path]);
        }

        arguments.AddRange(["--bind", workspace, workspace, "--chdir", workingDirectory, "--"]);
        return arguments;
    }

    private static bool IsUnder(string path, IEnumerable<string> roots) =>
        roots.Any(r => path.StartsWith(r + "/", StringComparison.Ordinal));
}
