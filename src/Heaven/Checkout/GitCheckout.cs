using Heaven.Configuration;
using Heaven.Execution;
using Heaven.GitHub;
using Heaven.Model;
using Microsoft.Extensions.Options;

namespace Heaven.Checkout;

/// <summary>How long each step may take; a constructor parameter so tests can use short ones.</summary>
internal sealed record CheckoutLimits
{
    public static CheckoutLimits Default { get; } = new();

    public TimeSpan Fetch { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Writing the files of a large repository can take as long as fetching it.</summary>
    public TimeSpan Checkout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>init, config, cat-file, worktree add: no network, but a busy disk.</summary>
    public TimeSpan LocalCommand { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Long enough for the fetches of other deployments of the repository queued ahead.</summary>
    public TimeSpan LockWait { get; init; } = TimeSpan.FromMinutes(30);
}

/// <summary>
/// Checkouts with the git CLI. Layout in the data directory: <c>repositories/&lt;owner&gt;/&lt;name&gt;.git</c>
/// — one bare mirror per repository (with its <c>heaven.lock</c>), Heaven's alone. Each deployment gets
/// <c>checkout/</c> in its own folder of the work directory (<see cref="Workspaces"/>): a copy of the
/// mirror (objects copied, never hard-linked, so a deploy cannot reach the mirror's files through
/// them) at the exact commit, handed to the deploy user. Every git command is given its repository
/// with <c>--git-dir</c>, so a damaged mirror can never make git fall back to some repository above it.
/// git runs with <see cref="GitEnvironment"/>'s environment, and <see cref="MirrorConfig"/> removes what
/// was planted in a mirror before each use: nothing in a mirror or a repository makes git run a program.
/// </summary>
internal sealed partial class GitCheckout : ICheckout
{
    // git's default, given on the command line: of several remote.origin.uploadpack settings the first
    // wins, so a planted one (a program run for file:// URLs) could not be overridden by configuration.
    private const string UploadPack = "--upload-pack=git-upload-pack";

    private static readonly string[] FetchRefspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

    private readonly string dataDirectory;
    private readonly string executable;
    private readonly GitHubOptions github;
    private readonly bool allowLocalRepositories;
    private readonly HostVariables? host;
    private readonly ILogger<GitCheckout> logger;
    private readonly TimeProvider timeProvider;
    private readonly CheckoutLimits limits;
    private readonly RepositoryLocks locks;
    private readonly Workspaces workspaces;
    private readonly DeployIsolation? isolation;

    public GitCheckout(
        DataDirectory dataDirectory,
        IOptions<GitOptions> git,
        IOptions<GitHubOptions> github,
        IOptions<CheckoutOptions> checkout,
        ILogger<GitCheckout> logger,
        TimeProvider? timeProvider = null,
        CheckoutLimits? limits = null,
        HostVariables? host = null,
        Workspaces? workspaces = null,
        DeployIsolation? isolation = null)
    {
        this.dataDirectory = dataDirectory.FullPath;
        executable = git.Value.Executable;
        this.github = github.Value;
        allowLocalRepositories = checkout.Value.AllowLocalRepositories;
        this.host = host;
        this.logger = logger;
        this.timeProvider = timeProvider ?? TimeProvider.System;
        this.limits = limits ?? CheckoutLimits.Default;
        this.workspaces = workspaces ?? new Workspaces(Path.TrimEndingDirectorySeparator(this.dataDirectory) + "-work");
        this.isolation = isolation;
        locks = new RepositoryLocks(this.timeProvider);
    }

    public string RepositoriesPath => Path.Combine(dataDirectory, "repositories");

    public async Task<IWorktree> PrepareAsync(CheckoutRequest request, IOutputSink log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(log);

        // Everything from the payload is checked before anything touches the disk or starts git.
        if (RefName.Problem(request.Ref) is { } refProblem)
        {
            throw new CheckoutException($"invalid ref {RefName.Quote(request.Ref)}: {refProblem}");
        }

        if (!CommitSha.TryNormalize(request.Sha, out var sha))
        {
            throw new CheckoutException($"invalid sha {RefName.Quote(request.Sha)}: a deployment names its commit by 40 hexadecimal characters");
        }

        if (!RepositoryName.TryParse(request.Repository, out var repository, out var nameProblem))
        {
            throw new CheckoutException($"invalid repository name {RefName.Quote(request.Repository)}: {nameProblem}");
        }

        if (!CloneSource.TryParse(request.CloneUrl, out var source, out var urlProblem))
        {
            // The URL itself is not quoted: what is wrong with it may be the credentials it carries.
            throw new CheckoutException($"invalid clone URL for {repository}: {urlProblem}");
        }

        if (CloneHostRule.Problem(source!, github, allowLocalRepositories) is { } hostProblem)
        {
            Log.CloneUrlRefused(logger, request.DeploymentId, repository!.ToString(), hostProblem);
            throw new CheckoutException(hostProblem);
        }

        var remote = new GitCommand(executable, GitEnvironment.ForFetch(source!, github, request.SshEnvironment, host), timeProvider);
        var local = LocalGit();
        var mirror = MirrorPath(repository!);
        var step = new Step(repository!, request.DeploymentId, log);
        var ownWorkspace = request.Workspace is null;
        Workspace workspace;
        try
        {
            workspace = request.Workspace ?? workspaces.Create(request.DeploymentId, isolation is null ? null : (await isolation.GetAsync(cancellationToken)).User);
        }
        catch (ProcessStartException e)
        {
            throw new CheckoutException(e.Message);
        }

        var target = workspace.Checkout;
        try
        {
            using (await LockAsync(repository!, mirror, limits.LockWait, cancellationToken))
            {
                await EnsureMirrorAsync(step, local, mirror, source!, cancellationToken);
                await FetchAsync(step, remote, local, mirror, sha, cancellationToken);

                // Under the lock, so no fetch changes the mirror while it is copied. --no-checkout: the
                // files are written after the lock is released, so another environment can fetch meanwhile.
                var copy = await local.RunAsync(
                    ["clone", "--quiet", "--no-hardlinks", "--no-checkout", "--", mirror, target],
                    dataDirectory,
                    limits.Checkout,
                    cancellationToken);
                if (!copy.Succeeded)
                {
                    throw await FailureAsync(step, local, $"could not copy the mirror of {repository} for {CommitSha.Short(sha)}", copy, limits.Checkout, cancellationToken);
                }
            }

            var gitDir = "--git-dir=" + Path.Combine(target, ".git");
            // The deploy's repository names the real origin, as a clone from it would; never the mirror.
            var origin = await local.RunAsync([gitDir, "config", "--", "remote.origin.url", source!.Url], target, limits.LocalCommand, cancellationToken);
            var files = origin.Succeeded
                ? await local.RunAsync([gitDir, "--work-tree=" + target, "checkout", "--quiet", "--detach", sha], target, limits.Checkout, cancellationToken)
                : origin;
            if (!files.Succeeded)
            {
                throw await FailureAsync(step, local, $"could not check out {CommitSha.Short(sha)} of {repository}", files, limits.Checkout, cancellationToken);
            }

            try
            {
                workspace.HandOver(target);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CheckoutException($"could not hand the checkout of {repository} to the deploy user: {e.Message}");
            }

            await log.WriteLineAsync(OutputStream.Heaven, $"Checked out {CommitSha.Short(sha)} (ref {request.Ref})", cancellationToken);
            Log.CheckedOut(logger, sha, repository!.ToString(), request.DeploymentId, target);
            return new GitWorktree(target, ownWorkspace ? workspace : null);
        }
        catch
        {
            // Also after cancellation: a deployment that never ran leaves nothing behind.
            if (ownWorkspace)
            {
                await workspace.DisposeAsync();
            }
            else
            {
                TryDeleteTree(target);
            }

            throw;
        }
    }

    /// <summary>
    /// The mirrors on disk: <c>owner/name</c> (lower case, as the folders are named) and the folder.
    /// </summary>
    public IReadOnlyList<(string Repository, string Path)> ListMirrors()
    {
        if (!Directory.Exists(RepositoriesPath))
        {
            return [];
        }

        return [.. Directory.EnumerateDirectories(RepositoriesPath)
            .SelectMany(owner => Directory.EnumerateDirectories(owner, "*.git")
                .Select(mirror => ($"{Path.GetFileName(owner)}/{Path.GetFileName(mirror)[..^".git".Length]}", mirror)))
            .Where(m => File.Exists(Path.Combine(m.mirror, "HEAD")))];
    }

    /// <summary>
    /// Removes a mirror under the lock a checkout takes, when <paramref name="stillUnused"/> (asked under
    /// that lock) agrees; false when the lock is busy (a fetch or copy in progress) or it is in use.
    /// Everything goes but the lock file, which must stay: a process waiting on it holds it open.
    /// The next deployment of the repository fetches a new mirror.
    /// </summary>
    public async Task<bool> RemoveMirrorAsync(string repository, Func<CancellationToken, Task<bool>> stillUnused, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stillUnused);
        if (!RepositoryName.TryParse(repository, out var name, out _))
        {
            return false;
        }

        var mirror = MirrorPath(name!);
        IDisposable held;
        try
        {
            held = await locks.AcquireAsync(name!.Key, mirror, TimeSpan.FromSeconds(1), cancellationToken);
        }
        catch (TimeoutException)
        {
            return false;
        }

        using (held)
        {
            if (!await stillUnused(cancellationToken))
            {
                return false;
            }

            foreach (var entry in new DirectoryInfo(mirror).EnumerateFileSystemInfos())
            {
                if (entry.Name == RepositoryLocks.LockFileName)
                {
                    continue;
                }

                if (entry is DirectoryInfo directory && entry.LinkTarget is null)
                {
                    directory.Delete(recursive: true);
                }
                else
                {
                    entry.Delete();
                }
            }

            return true;
        }
    }

    private string MirrorPath(RepositoryName repository) =>
        Path.Combine(RepositoriesPath, repository.Owner.ToLowerInvariant(), repository.Name.ToLowerInvariant() + ".git");

    private GitCommand LocalGit() => new(executable, GitEnvironment.Local(github.Token, host), timeProvider);

    private async Task<IDisposable> LockAsync(RepositoryName repository, string mirror, TimeSpan wait, CancellationToken cancellationToken)
    {
        try
        {
            return await locks.AcquireAsync(repository.Key, mirror, wait, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new CheckoutException($"timed out after {Describe(wait)} waiting for the lock on the mirror of {repository}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckoutException($"could not lock the mirror of {repository}: {e.Message}");
        }
    }

    private async Task EnsureMirrorAsync(Step step, GitCommand git, string mirror, CloneSource source, CancellationToken cancellationToken)
    {
        if (!File.Exists(Path.Combine(mirror, "HEAD")) || !File.Exists(Path.Combine(mirror, "config")))
        {
            // Also after a crash half-way through: init on an existing repository only fills in what is missing.
            var init = await git.RunAsync(["init", "--bare", "--quiet", "--", mirror], dataDirectory, limits.LocalCommand, cancellationToken);
            if (!init.Succeeded)
            {
                throw await FailureAsync(step, git, $"could not create the mirror of {step.Repository}", init, limits.LocalCommand, cancellationToken);
            }
        }

        // Every time: a renamed or transferred repository arrives with a new clone URL (which carries no
        // credentials), and a deploy may have planted settings or files that make git run its programs.
        var planted = await MirrorConfig.RepairAsync(git, mirror, source, dataDirectory, limits.LocalCommand, cancellationToken);
        if (planted.Count > 0)
        {
            var names = string.Join(", ", planted.Take(10)) + (planted.Count > 10 ? ", ..." : "");
            Log.PlantedRemoved(logger, step.Repository.ToString(), step.DeploymentId, names);
            await step.Log.WriteLineAsync(OutputStream.Heaven, $"Removed from the mirror of {step.Repository} what Heaven did not put there: {names}", cancellationToken);
        }
    }

    private async Task FetchAsync(Step step, GitCommand remote, GitCommand local, string mirror, string sha, CancellationToken cancellationToken)
    {
        // A commit never changes: a redeploy or rollback to one already fetched needs no network.
        if (await HasCommitAsync(step, local, mirror, sha, cancellationToken))
        {
            await step.Log.WriteLineAsync(OutputStream.Heaven, $"Using {CommitSha.Short(sha)} from the mirror of {step.Repository}", cancellationToken);
            return;
        }

        await step.Log.WriteLineAsync(OutputStream.Heaven, $"Fetching {step.Repository}...", cancellationToken);
        Log.Fetching(logger, step.Repository.ToString(), step.DeploymentId);
        var fetch = await remote.RunAsync(["--git-dir=" + mirror, "fetch", UploadPack, "--prune", "--no-tags", "origin", .. FetchRefspecs], dataDirectory, limits.Fetch, cancellationToken);
        if (!fetch.Succeeded)
        {
            throw await FailureAsync(step, remote, $"fetching {step.Repository} failed", fetch, limits.Fetch, cancellationToken);
        }

        if (await HasCommitAsync(step, local, mirror, sha, cancellationToken))
        {
            return;
        }

        // On no branch or tag (a deleted branch, a pull request's head): ask for the commit itself,
        // which GitHub serves when it is reachable from any of its refs.
        var bySha = await remote.RunAsync(["--git-dir=" + mirror, "fetch", UploadPack, "--no-tags", "origin", sha], dataDirectory, limits.Fetch, cancellationToken);
        if (await HasCommitAsync(step, local, mirror, sha, cancellationToken))
        {
            return;
        }

        var detail = Summary(bySha, remote) is { } reason ? $" ({reason})" : "";
        Log.CommitNotFound(logger, sha, step.Repository.ToString(), step.DeploymentId);
        throw new CheckoutException($"commit {CommitSha.Short(sha)} was not found in {step.Repository}: it is on no branch or tag, and fetching it by id failed{detail}");
    }

    private async Task<bool> HasCommitAsync(Step step, GitCommand git, string mirror, string sha, CancellationToken cancellationToken)
    {
        var result = await git.RunAsync(["--git-dir=" + mirror, "cat-file", "-e", sha + "^{commit}"], dataDirectory, limits.LocalCommand, cancellationToken);
        if (result.TimedOut)
        {
            throw await FailureAsync(step, git, $"could not read the mirror of {step.Repository}", result, limits.LocalCommand, cancellationToken);
        }

        return result.ExitCode == 0;
    }

    /// <summary>Puts git's own words in the deploy log and makes a short, clean exception of them.</summary>
    private async Task<CheckoutException> FailureAsync(Step step, GitCommand git, string what, GitResult result, TimeSpan timeout, CancellationToken cancellationToken)
    {
        foreach (var line in result.ErrorLines.Select(git.Environment.Mask).Where(l => l.Length > 0).TakeLast(20))
        {
            await step.Log.WriteLineAsync(OutputStream.Stderr, line, cancellationToken);
        }

        var reason = result.TimedOut
            ? $"timed out after {Describe(timeout)}"
            : Summary(result, git) ?? $"git exited with code {result.ExitCode}";
        if (git.Environment.WithheldToken)
        {
            reason += " (GitHub:Token is sent only to the server of GitHub:WebUrl)";
        }

        Log.GitFailed(logger, what, step.DeploymentId, reason);
        return new CheckoutException($"{what}: {reason}");
    }

    /// <summary>
    /// git's root cause in one line: ssh's own verdict when ssh failed (git only adds "Could not read
    /// from remote repository"), else its first "fatal:" or "error:" line, else its last line; masked and cut.
    /// </summary>
    private static string? Summary(GitResult result, GitCommand git)
    {
        var lines = result.ErrorLines.Select(l => git.Environment.Mask(l).Trim()).Where(l => l.Length > 0).ToList();
        var line = lines.FirstOrDefault(IsSshVerdict)
            ?? lines.FirstOrDefault(l => l.StartsWith("fatal:", StringComparison.Ordinal) || l.StartsWith("error:", StringComparison.Ordinal))
            ?? lines.LastOrDefault();
        if (line is null)
        {
            return null;
        }

        line = line.StartsWith("fatal: ", StringComparison.Ordinal) ? line["fatal: ".Length..]
            : line.StartsWith("error: ", StringComparison.Ordinal) ? line["error: ".Length..]
            : line;
        return line.Length > 200 ? line[..199] + "…" : line;
    }

    private static bool IsSshVerdict(string line) =>
        (line.StartsWith("No ", StringComparison.Ordinal) && line.Contains("host key is known", StringComparison.Ordinal))
        || line.StartsWith("Host key verification failed", StringComparison.Ordinal)
        || line.Contains("Permission denied (publickey", StringComparison.Ordinal);

    private static string Describe(TimeSpan span) =>
        span.TotalMinutes >= 1 && span.Seconds == 0 ? $"{(int)span.TotalMinutes} min" : $"{span.TotalSeconds:0.#} s";

    private static void CreateDirectory(string path)
    {
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckoutException($"could not create {path}: {e.Message}");
        }
    }

    private static void TryDeleteTree(string path) => Workspace.DeleteTree(path);

    /// <summary>What every step of one checkout reports to.</summary>
    private sealed record Step(RepositoryName Repository, long DeploymentId, IOutputSink Log);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Fetching {Repository} for deployment {DeploymentId}")]
        public static partial void Fetching(ILogger logger, string repository, long deploymentId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Deployment {DeploymentId} of {Repository} was refused: {Problem}")]
        public static partial void CloneUrlRefused(ILogger logger, long deploymentId, string repository, string problem);

        [LoggerMessage(Level = LogLevel.Warning, Message = "The mirror of {Repository} had settings or files Heaven does not write, removed before deployment {DeploymentId}: {Names}")]
        public static partial void PlantedRemoved(ILogger logger, string repository, long deploymentId, string names);

        [LoggerMessage(Level = LogLevel.Information, Message = "Checked out {Sha} of {Repository} for deployment {DeploymentId} in {Path}")]
        public static partial void CheckedOut(ILogger logger, string sha, string repository, long deploymentId, string path);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Checkout for deployment {DeploymentId}: {What}: {Reason}")]
        public static partial void GitFailed(ILogger logger, string what, long deploymentId, string reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Commit {Sha} was not found in {Repository} for deployment {DeploymentId}")]
        public static partial void CommitNotFound(ILogger logger, string sha, string repository, long deploymentId);




    }
}

/// <summary>One deployment's checkout; disposing it removes the folder the checkout made for it, if it made one.</summary>
internal sealed class GitWorktree(string path, Workspace? ownWorkspace) : IWorktree
{
    public string Path => path;

    public ValueTask DisposeAsync() => ownWorkspace?.DisposeAsync() ?? ValueTask.CompletedTask;
}
