using System.Globalization;
using Microsoft.Extensions.Options;

namespace Heaven.Execution;

/// <summary>What this host allows for deploys, found once at start.</summary>
/// <param name="User">The user deploys run as, or null for Heaven's own user.</param>
/// <param name="Bwrap">bubblewrap when deploys run in a sandbox, else null.</param>
/// <param name="Reasons">Why a user switch or the sandbox is not in use, for people.</param>
public sealed record IsolationState(IsolationMode Mode, DeployUser? User, string? Bwrap, IReadOnlyList<string> Reasons, string? CreatedUser = null)
{
    public bool IsIsolated => User is not null || Bwrap is not null;

    /// <summary>Set when deploys must be refused: isolation is required and nothing isolates them.</summary>
    public string? Refusal => Mode == IsolationMode.Required && !IsIsolated
        ? $"Deploys are refused: Deployments:Isolation is required, but this host allows neither a user switch nor a sandbox ({string.Join("; ", Reasons)})."
        : null;

    /// <summary>One line for the start-up report, /healthz and every deploy log's header.</summary>
    public string Summary => (User, Bwrap, Mode) switch
    {
        (_, _, IsolationMode.None) => "Deploys are not isolated (Deployments:Isolation=none): they run as Heaven's own user and can read its secrets.",
        ({ } user, { }, _) => $"Deploys run as user {user.Name} (uid {user.UserId.ToString(CultureInfo.InvariantCulture)}) in a bubblewrap sandbox.",
        ({ } user, null, _) => $"Deploys run as user {user.Name} (uid {user.UserId.ToString(CultureInfo.InvariantCulture)}) without a sandbox ({string.Join("; ", Reasons)}).",
        (null, { }, _) => $"Deploys run in a bubblewrap sandbox as Heaven's own user ({string.Join("; ", Reasons)}).",
        _ when Refusal is { } refusal => refusal,
        _ => $"Deploys are not isolated: they run as Heaven's own user and can read its secrets ({string.Join("; ", Reasons)}).",
    };
}

/// <summary>
/// Decides, once, how deploys are isolated here: as another user when Heaven runs as root (creating
/// <c>Deployments:RunAs</c> when it is missing), in a bubblewrap sandbox when <c>bwrap</c> works,
/// both when both are possible; and builds the command line that puts a deploy process there.
/// </summary>
public sealed partial class DeployIsolation(IOptions<IsolationOptions> options, SandboxView view, ILogger<DeployIsolation> logger, Workspaces? workspaces = null)
{
    private readonly SemaphoreSlim gate = new(1, 1);
    private IsolationState? state;

    /// <summary>The state once found; null before <see cref="GetAsync"/> ran.</summary>
    public IsolationState? Current => state;

    public async Task<IsolationState> GetAsync(CancellationToken cancellationToken)
    {
        if (state is { } known)
        {
            return known;
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            if (state is null)
            {
                state = await DetectAsync(cancellationToken);
                Log.Decided(logger, state.Summary);
            }

            return state;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// The programs and arguments that run a deploy process isolated: <c>setpriv</c> to the
    /// deploy user, then <c>bwrap</c> (as that user, so the sandbox is built with its rights, not root's).
    /// </summary>
    internal List<string> Wrap(IsolationState isolation, string workspace, string workingDirectory)
    {
        var prefix = new List<string>();
        if (isolation.User is { } user)
        {
            prefix.AddRange(UserSwitch(user));
        }

        if (isolation.Bwrap is { } bwrap)
        {
            prefix.Add(bwrap);
            prefix.AddRange(view.Arguments(workspace, workingDirectory, runsAsRoot: isolation.User is null && Posix.EffectiveUserId == 0));
        }

        return prefix;
    }

    /// <summary><c>setpriv</c> to the deploy user, without supplementary groups or capabilities, up to <c>--</c>.</summary>
    public static string[] UserSwitch(DeployUser user) =>
    [
        "/usr/bin/setpriv",
        $"--reuid={user.UserId.ToString(CultureInfo.InvariantCulture)}",
        $"--regid={user.GroupId.ToString(CultureInfo.InvariantCulture)}",
        "--clear-groups",
        "--inh-caps=-all",
        // No set-user-id program (sudo, su) can take a deploy back up.
        "--no-new-privs",
        "--",
    ];

    private async Task<IsolationState> DetectAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (settings.Isolation == IsolationMode.None)
        {
            return new IsolationState(IsolationMode.None, null, null, []);
        }

        var reasons = new List<string>();
        DeployUser? user = null;
        string? created = null;
        if (string.IsNullOrWhiteSpace(settings.RunAs))
        {
            reasons.Add("no user switch: Deployments:RunAs is empty");
        }
        else if (Posix.EffectiveUserId != 0)
        {
            reasons.Add("no user switch: Heaven does not run as root");
        }
        else
        {
            user = await DeployUser.FindAsync(settings.RunAs, cancellationToken);
            if (user is null)
            {
                var problem = await DeployUser.CreateAsync(settings.RunAs, cancellationToken);
                // Found after a failed useradd too: another Heaven on this host may have created it a moment ago.
                user = await DeployUser.FindAsync(settings.RunAs, cancellationToken);
                if (user is null)
                {
                    reasons.Add($"no user switch: user {settings.RunAs} (Deployments:RunAs) does not exist and could not be created ({problem ?? "useradd reported no error"})");
                }
                else if (problem is null)
                {
                    created = settings.RunAs;
                }
            }

            if (user is { UserId: 0 })
            {
                reasons.Add($"no user switch: user {settings.RunAs} (Deployments:RunAs) has uid 0, and deploys never run as root");
                user = null;
            }

            if (user is not null && workspaces is not null && Unreachable(workspaces) is { } blocked)
            {
                reasons.Add($"no user switch: user {user.Name} cannot reach the work directory {workspaces.Root} ({Workspaces.Key}), as {blocked} is not searchable by others");
                user = null;
            }
        }

        string? bwrap = null;
        if (!settings.Sandbox)
        {
            reasons.Add("no sandbox: Deployments:Sandbox is false");
        }
        else if (FindBwrap(settings) is not { } found)
        {
            reasons.Add("no sandbox: bwrap (Debian's bubblewrap) is not installed");
        }
        else if (await ProbeAsync(found, user, cancellationToken) is { } problem)
        {
            reasons.Add($"no sandbox: bwrap does not work here ({problem})");
        }
        else
        {
            bwrap = found;
        }

        return new IsolationState(settings.Isolation, user, bwrap, reasons, created);
    }

    private async Task<string?> ProbeAsync(string bwrap, DeployUser? user, CancellationToken cancellationToken)
    {
        // The very arguments a deploy gets, around /bin/true, in a folder made for the purpose.
        var folder = Directory.CreateTempSubdirectory("heaven-sandbox-probe-").FullName;
        try
        {
            if (user is not null && !Posix.ChangeOwner(folder, user.UserId, user.GroupId, out var error))
            {
                return $"could not prepare a folder for the probe (errno {error})";
            }

            var command = Wrap(new IsolationState(IsolationMode.Auto, user, bwrap, []), folder, folder);
            command.Add("/bin/true");
            var (exitCode, output) = await Tool.RunAsync(command[0], command[1..], cancellationToken);
            return exitCode == 0 ? null : FirstLine(output) ?? $"exit code {exitCode}";
        }
        finally
        {
            Workspace.DeleteTree(folder);
        }
    }

    /// <summary>The first folder on the way to the work directory that other users may not pass through, or null.</summary>
    private static string? Unreachable(Workspaces workspaces)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        try
        {
            workspaces.EnsureRoot();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return workspaces.Root;
        }

        for (var folder = System.IO.Path.GetDirectoryName(workspaces.Root); folder is not null; folder = System.IO.Path.GetDirectoryName(folder))
        {
            if (!File.GetUnixFileMode(folder).HasFlag(UnixFileMode.OtherExecute))
            {
                return folder;
            }
        }

        return null;
    }

    private static string? FindBwrap(IsolationOptions settings)
    {
        if (settings.BwrapPath is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? configured : null;
        }

        return ProgramResolver.FindOnPath("bwrap", Environment.GetEnvironmentVariable("PATH"));
    }

    private static string? FirstLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "{Summary}")]
        public static partial void Decided(ILogger logger, string summary);
    }
}
