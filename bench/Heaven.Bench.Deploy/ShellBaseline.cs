using System.Diagnostics;
using System.Globalization;

namespace Heaven.Bench.Deploy;

/// <summary>
/// The same work as a deployment, done without Heaven by bash launched from the benchmark: what each
/// benchmark's figures are compared with, measured in the same run, so a slower or busier machine moves
/// both sides. The steps are those of <c>GitCheckout</c> for a commit the mirror already has: under an
/// exclusive lock on the mirror (taken only by parallel jobs), <c>cat-file -e</c> (and a fetch only if the commit were missing), then a
/// copy of the mirror (<c>clone --no-hardlinks --no-checkout</c>); outside the lock the origin URL and the
/// checkout of the commit; then the deploy script in that folder with its output read by the benchmark, and
/// the folder removed. Not done here, being Heaven's own work: the webhook, the claim, the statuses, the log
/// and the gist, and the check and repair of the mirror's configuration before each use.
/// </summary>
internal sealed class ShellBaseline
{
    private const string DeployScript = """
        #!/usr/bin/env bash
        # One deployment without Heaven: mirror, clone URL, commit, script (relative to the checkout), folder,
        # and "lock" when other jobs share the mirror.
        set -euo pipefail
        mirror=$1 url=$2 sha=$3 script=$4 target=$5 lock=${6:-}
        # No process where bash or git can do without one (the clone makes the folders, ${..} is a
        # builtin): on a busy machine each process start costs tens of milliseconds, and Heaven makes its
        # folders and takes its lock in-process. flock(1) is a process, so only jobs that need it run it.
        mirror_steps() {
          git --git-dir="$mirror" cat-file -e "$sha^{commit}" 2>/dev/null \
            || git --git-dir="$mirror" fetch --quiet --prune --no-tags origin '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*'
          git clone --quiet --no-hardlinks --no-checkout -- "$mirror" "$target"
        }
        if [ -n "$lock" ]; then
          { flock 9; mirror_steps; } 9>"$mirror/bench.lock"
        else
          mirror_steps
        fi
        git --git-dir="$target/.git" config -- remote.origin.url "$url"
        git --git-dir="$target/.git" --work-tree="$target" checkout --quiet --detach "$sha"
        cd "$target"
        "./$script"
        rm -rf "${target%/*}"
        """;

    // N jobs of the script above, started at once in the background; the last to finish ends the run.
    private const string ParallelScript = """
        #!/usr/bin/env bash
        set -euo pipefail
        deploy=$1 mirror=$2 url=$3 sha=$4 script=$5 folder=$6 count=$7
        for i in $(seq 1 "$count"); do
          "$deploy" "$mirror" "$url" "$sha" "$script" "$folder/$i/checkout" lock &
        done
        status=0
        for job in $(jobs -p); do wait "$job" || status=1; done
        exit $status
        """;

    private const string PipeScript = """
        #!/usr/bin/env bash
        # The deploy script's output through a pipe into a file: what storing it costs without Heaven.
        set -euo pipefail
        "$1" | cat > "$2"
        """;

    private readonly BenchRepository repository;
    private readonly string folder;
    private readonly string mirror;
    private readonly string deploy;
    private readonly string parallel;
    private readonly string pipe;
    private int next;

    public ShellBaseline(string workDirectory, BenchRepository repository)
    {
        this.repository = repository;
        folder = Path.Combine(workDirectory, "shell-baseline", Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        deploy = Write("deploy.sh", DeployScript);
        parallel = Write("parallel.sh", ParallelScript);
        pipe = Write("pipe.sh", PipeScript);

        // A mirror of its own, made as Heaven makes one: an empty bare repository, then a fetch.
        mirror = Path.Combine(folder, "mirror.git");
        Git("init", "--quiet", "--bare", "--", mirror);
        Git("--git-dir=" + mirror, "remote", "add", "origin", repository.CloneUrl);
        Git("--git-dir=" + mirror, "fetch", "--quiet", "--prune", "--no-tags", "origin", "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*");
    }

    /// <summary>The same commands each benchmark names in its report.</summary>
    public static string Describe(bool locked) =>
        $"bash running{(locked ? ", under `flock` on the mirror," : "")} `git cat-file -e <sha>^{{commit}}` (a fetch only if it were missing, as Heaven does) and " +
        "`git clone --no-hardlinks --no-checkout <mirror> <folder>`, then `git config remote.origin.url`, `git checkout --detach <sha>`, " +
        "the script in the checkout with its output read by the benchmark, and `rm -rf` of the folder";

    /// <summary>One deployment of <paramref name="script"/> (e.g. <c>noop</c>): launch of bash → its exit.</summary>
    public async Task<TimeSpan> DeployAsync(string script)
    {
        var target = Path.Combine(folder, "runs", Interlocked.Increment(ref next).ToString(CultureInfo.InvariantCulture), "checkout");
        return await RunAsync(deploy, mirror, repository.CloneUrl, repository.Sha, $"script/{script}", target);
    }

    /// <summary><paramref name="count"/> deployments at once as background jobs of one bash: launch → the last job's exit.</summary>
    public async Task<TimeSpan> ParallelAsync(string script, int count)
    {
        var runs = Path.Combine(folder, "parallel", Interlocked.Increment(ref next).ToString(CultureInfo.InvariantCulture));
        var took = await RunAsync(parallel, deploy, mirror, repository.CloneUrl, repository.Sha, $"script/{script}", runs, count.ToString(CultureInfo.InvariantCulture));
        Directory.Delete(runs, recursive: true);
        return took;
    }

    /// <summary><paramref name="script"/>'s output piped through <c>cat</c> into a file: launch → exit, and the file's size.</summary>
    public async Task<(TimeSpan Took, long Bytes)> PipeAsync(string script)
    {
        var file = Path.Combine(folder, "output.log");
        var took = await RunAsync(pipe, repository.ScriptPath(script), file);
        var bytes = new FileInfo(file).Length;
        File.Delete(file);
        return (took, bytes);
    }

    private static async Task<TimeSpan> RunAsync(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // As Heaven's git runs: no system or user configuration.
        info.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        info.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var took = watch.Elapsed;
        await stdout;
        var errors = await stderr;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"the shell baseline {Path.GetFileName(program)} exited with {process.ExitCode}: {errors}");
        }

        return took;
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(folder, name);
        File.WriteAllText(path, text.ReplaceLineEndings("\n") + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private static void Git(params string[] args)
    {
        var info = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        info.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        using var process = Process.Start(info)!;
        process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"git {string.Join(' ', args)} failed: {error}");
        }
    }
}
