using System.Diagnostics;
using System.Runtime.Versioning;
using System.Text.Json.Nodes;

// The benchmarks measure Heaven on Linux (setsid, /proc, process groups).
[assembly: SupportedOSPlatform("linux")]

namespace Heaven.Bench.Deploy;

/// <summary>
/// The repository the benchmarks deploy: a bare repository reached by a <c>file://</c> clone URL (as a
/// GitHub clone URL reaches Heaven) with one commit holding the benchmark's deploy scripts.
/// </summary>
internal sealed class BenchRepository
{
    public const string FullName = "bench/app";

    /// <summary>Lines of 99 characters and a newline: 2 Mi of them are exactly 200 MiB.</summary>
    public static readonly string FloodLine = "2026-01-01T12:00:00.000Z INFO  deploy[4242]: copying release files to /srv/app/releases/20260101 ".PadRight(99, '.');

    public const long FloodBytes = 200L * 1024 * 1024;

    /// <summary>Lines of <c>script/livelog</c>, one every 50 ms.</summary>
    public const int LiveLogLines = 300;

    public static long FloodLines => FloodBytes / (FloodLine.Length + 1);

    /// <summary>
    /// How long <c>script/paused-flood</c> waits before its flood: time for a flood's viewers to attach,
    /// as they would from their browsers while a deploy checks out, before the output starts.
    /// </summary>
    public static readonly TimeSpan FloodPause = TimeSpan.FromSeconds(3);

    private static long nextDeploymentId = 7_000_000;

    public BenchRepository(string workDirectory)
    {
        var root = Path.Combine(workDirectory, "repository");
        BarePath = Path.Combine(root, "origin.git");
        var work = Path.Combine(root, "work");
        Git(root, "init", "--quiet", "--bare", "--initial-branch=main", BarePath);
        Git(root, "init", "--quiet", "--initial-branch=main", work);
        Write(work, "script/noop", "#!/usr/bin/env bash\nexit 0\n");
        Write(work, "script/sleep", "#!/usr/bin/env bash\nsleep 1\n");
        Write(work, "script/flood", $"#!/usr/bin/env bash\n# yes dies of SIGPIPE when head has its lines; head's status is the script's.\nyes '{FloodLine}' | head -n {FloodLines}\n");
        Write(work, "script/paused-flood", $"#!/usr/bin/env bash\nsleep {FloodPause.TotalSeconds:0}\nyes '{FloodLine}' | head -n {FloodLines}\n");
        Write(work, "script/livelog", $"#!/usr/bin/env bash\n# A line every 50 ms carrying the moment it was printed (Unix nanoseconds).\nfor i in $(seq 0 {LiveLogLines - 1}); do echo \"livelog $i $(date +%s%N)\"; sleep 0.05; done\n");
        Write(work, "README", "Heaven deploy benchmark\n");
        Git(work, "add", "--all");
        Git(work, "commit", "--quiet", "-m", "benchmark scripts");
        Git(work, "push", "--quiet", BarePath, "HEAD:refs/heads/main");
        Sha = Git(work, "rev-parse", "HEAD").Trim();
        WorkPath = work;
    }

    public string BarePath { get; }

    public string WorkPath { get; }

    public string Sha { get; }

    public string CloneUrl => new Uri(BarePath).AbsoluteUri;

    public string ScriptPath(string name) => Path.Combine(WorkPath, "script", name);

    /// <summary>A <c>deployment</c> webhook body in GitHub's shape (hubot-deploy style) for the given script.</summary>
    public (string Body, long GitHubId) Webhook(string script, string environment)
    {
        var id = Interlocked.Increment(ref nextDeploymentId);
        var body = new JsonObject
        {
            ["action"] = "created",
            ["deployment"] = new JsonObject
            {
                ["url"] = $"https://api.github.com/repos/{FullName}/deployments/{id}",
                ["id"] = id,
                ["sha"] = Sha,
                ["ref"] = "main",
                ["task"] = "deploy",
                ["payload"] = new JsonObject
                {
                    ["config"] = new JsonObject { ["provider"] = "shell", ["deploy_script"] = $"script/{script}" },
                    ["notify"] = new JsonObject { ["room"] = "ops", ["user"] = "octocat", ["adapter"] = "slack" },
                },
                ["environment"] = environment,
                ["description"] = "Deploying from hubot-deploy",
                ["creator"] = new JsonObject { ["login"] = "octocat", ["id"] = 1 },
            },
            ["repository"] = new JsonObject
            {
                ["id"] = 42,
                ["name"] = FullName.Split('/')[1],
                ["full_name"] = FullName,
                ["clone_url"] = CloneUrl,
                ["default_branch"] = "main",
            },
            ["sender"] = new JsonObject { ["login"] = "octocat" },
        };
        return (body.ToJsonString(), id);
    }

    private static void Write(string work, string name, string content)
    {
        var path = Path.Combine(work, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        if (name.StartsWith("script/", StringComparison.Ordinal))
        {
            File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        }
    }

    private static string Git(string workingDirectory, params string[] args)
    {
        Directory.CreateDirectory(workingDirectory);
        var info = new ProcessStartInfo("git")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // Works without a global git identity or configuration.
        info.Environment["GIT_AUTHOR_NAME"] = info.Environment["GIT_COMMITTER_NAME"] = "Heaven Bench";
        info.Environment["GIT_AUTHOR_EMAIL"] = info.Environment["GIT_COMMITTER_EMAIL"] = "bench@heaven.invalid";
        info.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        info.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"git {string.Join(' ', args)} failed: {error}");
        }

        return output;
    }
}
