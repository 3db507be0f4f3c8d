using System.Collections.Concurrent;
using System.Diagnostics;
using Heaven.Checkout;
using Heaven.Configuration;
using Heaven.GitHub;
using Heaven.Model;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Heaven.Tests.Checkout;

/// <summary>Runs the real git for test set-up, independent of the machine's git configuration.</summary>
internal static class TestGit
{
    public static string Run(string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo("git")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        start.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        start.Environment["GIT_AUTHOR_NAME"] = start.Environment["GIT_COMMITTER_NAME"] = "Heaven Tests";
        start.Environment["GIT_AUTHOR_EMAIL"] = start.Environment["GIT_COMMITTER_EMAIL"] = "tests@heaven.invalid";
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"git {string.Join(' ', arguments)} failed: {error.Result}");
        }

        return output.Trim();
    }
}

/// <summary>A repository to deploy: commits are made in a working copy and pushed to a bare repository that is cloned from.</summary>
internal sealed class SourceRepository
{
    private readonly string work;

    private SourceRepository(string work, string bare)
    {
        this.work = work;
        BarePath = bare;
    }

    public string BarePath { get; }

    public string FileUrl => "file://" + BarePath;

    /// <param name="bare">Where the bare repository goes; served over HTTP, its path is the URL's path.</param>
    public static SourceRepository Create(string directory, string? bare = null)
    {
        var work = Path.Combine(directory, "work-" + Guid.NewGuid().ToString("N")[..8]);
        bare ??= Path.Combine(directory, "source.git");
        Directory.CreateDirectory(work);
        TestGit.Run(work, "init", "--quiet");
        TestGit.Run(directory, "init", "--quiet", "--bare", bare);
        return new SourceRepository(work, bare);
    }

    /// <summary>Commits the files on main, pushes, and returns the commit's sha.</summary>
    public string Commit(string message, params (string Path, string Content)[] files)
    {
        foreach (var (path, content) in files)
        {
            var full = Path.Combine(work, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, content);
        }

        TestGit.Run(work, "add", "--all");
        TestGit.Run(work, "commit", "--quiet", "--allow-empty", "-m", message);
        TestGit.Run(work, "push", "--quiet", BarePath, "HEAD:refs/heads/main");
        // For the dumb HTTP protocol the test server speaks.
        TestGit.Run(BarePath, "update-server-info");
        return TestGit.Run(work, "rev-parse", "HEAD");
    }

    /// <summary>Moves main back, so <paramref name="sha"/> is on no branch any more.</summary>
    public void ResetMainTo(string sha)
    {
        TestGit.Run(work, "reset", "--quiet", "--hard", sha);
        TestGit.Run(work, "push", "--quiet", "--force", BarePath, "HEAD:refs/heads/main");
        TestGit.Run(BarePath, "update-server-info");
    }
}

/// <summary>Keeps every line a checkout writes.</summary>
internal sealed class RecordingSink : IOutputSink
{
    private readonly ConcurrentQueue<(OutputStream Stream, string Line)> lines = new();

    public IReadOnlyList<(OutputStream Stream, string Line)> Lines => [.. lines];

    public IEnumerable<string> Text => lines.Select(l => l.Line);

    public ValueTask WriteLineAsync(OutputStream stream, string line, CancellationToken cancellationToken)
    {
        lines.Enqueue((stream, line));
        return ValueTask.CompletedTask;
    }
}

/// <summary>Keeps every log message, formatted, to check what reaches the operator's logs.</summary>
internal sealed class RecordingLogger<T> : ILogger<T>
{
    private readonly ConcurrentQueue<string> messages = new();

    public IReadOnlyList<string> Messages => [.. messages];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        messages.Enqueue(formatter(state, exception) + (exception is null ? "" : " " + exception));
}

/// <summary>A data directory, a source repository, and a <see cref="GitCheckout"/> over them.</summary>
internal sealed class CheckoutBench : IDisposable
{
    private readonly Infrastructure.TemporaryDirectory directory = new();

    public CheckoutBench()
    {
        DataPath = Path.Combine(directory.Path, "data");
        Directory.CreateDirectory(DataPath);
        Source = SourceRepository.Create(directory.Path);
    }

    public string Root => directory.Path;

    public string DataPath { get; }

    public SourceRepository Source { get; }

    public RecordingLogger<GitCheckout> Logger { get; } = new();

    public string MirrorPath => Path.Combine(DataPath, "repositories", "atmos", "my-robot.git");

    /// <summary>Where the deployments' folders are (<c>WorkDirectory</c>'s default next to the data directory).</summary>
    public string WorktreesPath => DataPath + "-work";

    /// <param name="allowLocal">Checkout:AllowLocalRepositories; on, as the source repository is a local one.</param>
    /// <param name="host">Heaven's own environment as git would inherit it; the test process's by default.</param>
    public GitCheckout Checkout(
        string git = "git",
        string? token = null,
        string webUrl = "https://github.com/",
        CheckoutLimits? limits = null,
        TimeProvider? time = null,
        bool allowLocal = true,
        string[]? cloneHosts = null,
        IReadOnlyDictionary<string, string>? host = null) =>
        new(
            new DataDirectory(DataPath),
            Options.Create(new GitOptions { Executable = git }),
            Options.Create(new GitHubOptions { Token = token, WebUrl = webUrl, CloneHosts = [.. cloneHosts ?? []] }),
            Options.Create(new CheckoutOptions { AllowLocalRepositories = allowLocal }),
            Logger,
            time ?? TimeProvider.System,
            limits,
            host is null ? null : name => host.GetValueOrDefault(name));

    public CheckoutRequest Request(string sha, string? cloneUrl = null, string @ref = "main", long deploymentId = 42, string repository = "atmos/my-robot") =>
        new(repository, cloneUrl ?? Source.FileUrl, @ref, sha, deploymentId);

    /// <summary>
    /// A git that logs its arguments, the names of its GIT_*/GCM_* variables and the keys (not the values)
    /// of its GIT_CONFIG_* settings to <c>git-calls.log</c>, runs <paramref name="before"/> (bash, with the
    /// arguments in "$@"), then the real git.
    /// </summary>
    public string WrapperGit(string before = "")
    {
        var path = Path.Combine(Root, "git-wrapper-" + Guid.NewGuid().ToString("N")[..8]);
        File.WriteAllText(path, $$"""
            #!/bin/bash
            {
              printf 'argv:'; printf ' %s' "$@"; printf '\n'
              printf 'env:'; compgen -e | grep -E '^(GIT_|GCM_)' | tr '\n' ' '; printf '\n'
              printf 'config:'; for ((i = 0; i < ${GIT_CONFIG_COUNT:-0}; i++)); do key="GIT_CONFIG_KEY_$i"; printf ' %s' "${!key}"; done; printf '\n'
            } >> "{{CallLog}}"
            {{before}}
            exec git "$@"
            """.Replace("\r", ""));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    public string CallLog => Path.Combine(Root, "git-calls.log");

    public string ReadCallLog() => File.Exists(CallLog) ? File.ReadAllText(CallLog) : "";

    /// <summary>What <c>git worktree list</c> says about the mirror.</summary>

    public void Dispose() => directory.Dispose();
}

/// <summary>
/// Serves bare repositories over git's dumb HTTP protocol (plain files), recording each request's
/// Authorization header; optionally answers 401 to requests without the expected one.
/// </summary>
internal sealed class DumbGitServer : Infrastructure.FakeHttpServer
{
    private readonly string root;
    private readonly string? requiredAuthorization;

    private DumbGitServer(string root, string? requiredAuthorization)
    {
        this.root = root;
        this.requiredAuthorization = requiredAuthorization;
    }

    public Uri BaseAddress => new(Root + "/");

    /// <summary>Each request's Authorization header ("" when it sent none), in order.</summary>
    public IReadOnlyList<string> Authorizations => Requests.Select(r => r.Header("Authorization") ?? "").ToList();

    public IReadOnlyList<string> Paths => Requests.Select(r => r.Path).ToList();

    public static async Task<DumbGitServer> StartAsync(string root, string? requiredAuthorization = null)
    {
        var server = new DumbGitServer(root, requiredAuthorization);
        await server.ListenAsync();
        return server;
    }

    protected override async Task<Infrastructure.FakeReply> AnswerAsync(Infrastructure.FakeRequest request, CancellationToken cancellationToken)
    {
        if (requiredAuthorization is not null && (request.Header("Authorization") ?? "") != requiredAuthorization)
        {
            return new Infrastructure.FakeReply(StatusCodes.Status401Unauthorized, "", new Dictionary<string, string> { ["WWW-Authenticate"] = "Basic realm=\"test\"" });
        }

        var full = Path.GetFullPath(Path.Combine(root, request.Path.TrimStart('/')));
        if (!full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !File.Exists(full))
        {
            return new Infrastructure.FakeReply(StatusCodes.Status404NotFound);
        }

        return new Infrastructure.FakeReply(StatusCodes.Status200OK, ContentType: "application/octet-stream") { Bytes = await File.ReadAllBytesAsync(full, cancellationToken) };
    }
}
