using Heaven.Configuration;

namespace Heaven.Execution;

/// <summary>How much of Heaven a deploy is kept away from: <c>Deployments:Isolation</c>.</summary>
public enum IsolationMode
{
    /// <summary>User switch and/or sandbox, whatever this host allows; said plainly when it allows neither.</summary>
    Auto,

    /// <summary>Like <see cref="Auto"/>, but deploys are refused when neither is possible.</summary>
    Required,

    /// <summary>Deploys run as Heaven's own user, with Heaven's view of the system (the original's way). Warned at start.</summary>
    None,
}

/// <summary>
/// Deploy isolation settings (section <c>Deployments</c>): deploys run repository code, so by default
/// they run as another user and inside a bubblewrap sandbox whenever this host allows it.
/// </summary>
public sealed class IsolationOptions : ISelfValidatingOptions
{
    public const string Section = "Deployments";
    public const string DefaultUser = "heaven-deploy";

    public IsolationMode Isolation { get; set; } = IsolationMode.Auto;

    /// <summary>
    /// The user deploys run as when Heaven can switch users (it runs as root). Created as a system user
    /// without a login shell when Heaven runs as root and it does not exist. Empty: no user switch.
    /// </summary>
    public string? RunAs { get; set; } = DefaultUser;

    /// <summary>Run deploys in a bubblewrap sandbox when <c>bwrap</c> works here.</summary>
    public bool Sandbox { get; set; } = true;

    /// <summary>Extra host paths a sandboxed deploy sees read-only (a shared tool cache, say).</summary>
    public List<string> SandboxReadOnlyPaths { get; set; } = [];

    /// <summary>Extra host paths a sandboxed deploy may write (an artifact folder, say). The deploy user needs permission there too.</summary>
    public List<string> SandboxWritablePaths { get; set; } = [];

    /// <summary>bubblewrap, found on the PATH when not set.</summary>
    public string? BwrapPath { get; set; }

    public IEnumerable<string> Validate()
    {
        if (RunAs is { Length: > 0 } user && (user == "root" || user.Trim('0').Length == 0 || user.Any(c => char.IsWhiteSpace(c) || c == ':' || c == '/')))
        {
            yield return $"{Setting.Name("Deployments:RunAs")} is '{user}': deploys never run as root; name an ordinary user (default {DefaultUser}), or leave it empty for no user switch.";
        }

        foreach (var (name, paths) in new[] { ("Deployments:SandboxReadOnlyPaths", SandboxReadOnlyPaths), ("Deployments:SandboxWritablePaths", SandboxWritablePaths) })
        {
            foreach (var path in paths.Where(p => !Path.IsPathFullyQualified(p)))
            {
                yield return $"{Setting.Name(name)} has '{path}': give absolute paths.";
            }
        }

        if (BwrapPath is { Length: > 0 } bwrap && !Path.IsPathFullyQualified(bwrap))
        {
            yield return $"{Setting.Name("Deployments:BwrapPath")} is '{bwrap}': give an absolute path.";
        }
    }
}
