using System.Security.Cryptography;
using Heaven.Configuration;

namespace Heaven.Execution;

/// <summary>
/// Where deploys work: one private folder per running deployment under the work directory
/// (<c>WorkDirectory</c>, default the data directory's path with <c>-work</c> appended). It is
/// outside the data directory on purpose: the data directory is 0700 and Heaven's alone, while a
/// deploy's folder belongs to the deploy user. The work directory itself is 0711: the deploy user may
/// pass through it to its own folder but cannot list the others, whose names are random.
/// Every process started with its working directory inside a deployment's folder is a deploy process
/// and runs isolated (<see cref="ProcessRunner"/>).
/// </summary>
public sealed class Workspaces
{
    public const string Key = "WorkDirectory";

    private const UnixFileMode PassThrough = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public Workspaces(string root) => Root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));

    public string Root { get; }

    public static Workspaces From(IConfiguration configuration, DataDirectory data)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(data);
        var configured = configuration[Key];
        return new Workspaces(string.IsNullOrWhiteSpace(configured) ? Path.TrimEndingDirectorySeparator(data.FullPath) + "-work" : configured);
    }

    /// <summary>The deployment folder that <paramref name="path"/> is in, or null when it is in none.</summary>
    public string? FolderOf(string path)
    {
        var full = Path.GetFullPath(path);
        if (!full.StartsWith(Root + "/", StringComparison.Ordinal))
        {
            return null;
        }

        var rest = full[(Root.Length + 1)..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var name = slash < 0 ? rest : rest[..slash];
        return name.Length == 0 || name is "." or ".." ? null : Path.Combine(Root, name);
    }

    /// <summary>Creates the work directory, searchable but not listable by others (0711).</summary>
    public void EnsureRoot()
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(Root);
            return;
        }

        Directory.CreateDirectory(Root, PassThrough);
        // CreateDirectory leaves an existing folder's mode alone, and Heaven's umask narrows a new one.
        File.SetUnixFileMode(Root, PassThrough);
    }

    /// <summary>Deletes every deployment folder: what a killed run of this data directory's Heaven left behind.</summary>
    public void RemoveAll()
    {
        if (!Directory.Exists(Root))
        {
            return;
        }

        foreach (var folder in Directory.EnumerateDirectories(Root))
        {
            Workspace.DeleteTree(folder);
        }
    }

    /// <summary>Creates the private folder of one deployment, owned by <paramref name="owner"/> when deploys run as another user.</summary>
    /// <exception cref="ProcessStartException">the folder cannot be created or handed over.</exception>
    public Workspace Create(long deploymentId, DeployUser? owner)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new ProcessStartException("deployment folders need Linux or another Unix");
        }

        var path = Path.Combine(Root, $"{deploymentId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}");
        try
        {
            EnsureRoot();
            Directory.CreateDirectory(path, Private);
            var workspace = new Workspace(path, owner);
            Directory.CreateDirectory(workspace.Home, Private);
            Directory.CreateDirectory(workspace.Temp, Private);
            workspace.HandOver(path);
            return workspace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Workspace.DeleteTree(path);
            throw new ProcessStartException($"could not create the deployment's folder in {Root} ({Key}): {e.Message}", e);
        }
    }
}

/// <summary>
/// One deployment's private folder: <c>checkout/</c> (the repository at the deployment's commit),
/// <c>home/</c> and <c>tmp/</c> (the deploy's HOME and TMPDIR), <c>ssh/</c> (its ssh-agent and
/// client files). Disposing deletes it, whatever the deploy left in it.
/// </summary>
public sealed class Workspace : IAsyncDisposable
{
    private int disposed;

    internal Workspace(string path, DeployUser? owner)
    {
        Path = path;
        Owner = owner;
    }

    public string Path { get; }

    /// <summary>The user the deploy runs as, who owns the folder; null when deploys run as Heaven's own user.</summary>
    public DeployUser? Owner { get; }

    public string Checkout => System.IO.Path.Combine(Path, "checkout");

    public string Home => System.IO.Path.Combine(Path, "home");

    public string Temp => System.IO.Path.Combine(Path, "tmp");

    public string Ssh => System.IO.Path.Combine(Path, "ssh");

    /// <summary>Gives <paramref name="path"/> and everything below it to the deploy user (links themselves, never what they point to).</summary>
    /// <exception cref="IOException">an owner could not be changed.</exception>
    public void HandOver(string path)
    {
        if (Owner is null)
        {
            return;
        }

        var pending = new Stack<string>([path]);
        while (pending.TryPop(out var current))
        {
            if (!Posix.ChangeOwner(current, Owner.UserId, Owner.GroupId, out var error))
            {
                throw new IOException($"could not give {current} to user {Owner.Name} (errno {error})");
            }

            var info = new FileInfo(current);
            if (info.Attributes.HasFlag(FileAttributes.Directory) && info.LinkTarget is null)
            {
                foreach (var child in Directory.EnumerateFileSystemEntries(current))
                {
                    pending.Push(child);
                }
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 0)
        {
            DeleteTree(Path);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Deletes a folder a deploy has used, including folders it left without write permission (Go's module cache does that). Never throws.</summary>
    internal static void DeleteTree(string path)
    {
        try
        {
            if (!Directory.Exists(path))
            {
                return;
            }

            try
            {
                Directory.Delete(path, recursive: true);
                return;
            }
            catch (Exception e) when ((e is IOException or UnauthorizedAccessException) && !OperatingSystem.IsWindows())
            {
            }

            if (OperatingSystem.IsWindows())
            {
                return;
            }

            var pending = new Stack<string>([path]);
            while (pending.TryPop(out var folder))
            {
                File.SetUnixFileMode(folder, File.GetUnixFileMode(folder) | UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                foreach (var child in new DirectoryInfo(folder).EnumerateDirectories())
                {
                    // A link is removed as a link; what it points to is not ours.
                    if (child.LinkTarget is null)
                    {
                        pending.Push(child.FullName);
                    }
                }
            }

            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next start's sweep of the work directory.
        }
    }
}
