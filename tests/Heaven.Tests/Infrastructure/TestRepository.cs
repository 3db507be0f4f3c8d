using System.Diagnostics;

namespace Heaven.Tests.Infrastructure;

/// <summary>
/// A real git repository to deploy from: a bare repository reached by a <c>file://</c> clone URL, the
/// way GitHub's clone URL reaches Heaven, plus a working copy to commit into.
/// </summary>
public sealed class TestRepository : IDisposable
{
    private readonly TemporaryDirectory directory = new();

    public TestRepository(string fullName = "octo/app")
    {
        FullName = fullName;
        BarePath = Path.Combine(directory.Path, "origin.git");
        WorkPath = Path.Combine(directory.Path, "work");
        Git(directory.Path, "init", "--quiet", "--bare", "--initial-branch=master", BarePath);
        Git(directory.Path, "init", "--quiet", "--initial-branch=master", WorkPath);
        Git(WorkPath, "remote", "add", "origin", BarePath);
    }

    public string FullName { get; }

    public string BarePath { get; }

    public string WorkPath { get; }

    public string CloneUrl => new Uri(BarePath).AbsoluteUri;

    /// <summary>Writes the files (executable when the name is in <paramref name="executables"/>), commits, pushes; returns the sha.</summary>
    public string Commit(string message, IReadOnlyDictionary<string, string> files, params string[] executables)
    {
        foreach (var (name, content) in files)
        {
            var path = Path.Combine(WorkPath, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, content);
            if (executables.Contains(name))
            {
                File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            }
        }

        Git(WorkPath, "add", "--all");
        Git(WorkPath, "commit", "--quiet", "--allow-empty", "-m", message);
        Git(WorkPath, "push", "--quiet", "origin", "HEAD:refs/heads/master");
        return Git(WorkPath, "rev-parse", "HEAD").Trim();
    }

    /// <summary>A repository whose <c>script/deploy</c> is the given bash script.</summary>
    public string CommitDeployScript(string body, string path = "script/deploy") =>
        Commit("deploy script", new Dictionary<string, string> { [path] = "#!/usr/bin/env bash\nset -euo pipefail\n" + body + "\n" }, path);

    public static string Git(string workingDirectory, params string[] args)
    {
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

        // Works on a machine without a global git identity, as CI is.
        info.Environment["GIT_AUTHOR_NAME"] = info.Environment["GIT_COMMITTER_NAME"] = "Heaven Tests";
        info.Environment["GIT_AUTHOR_EMAIL"] = info.Environment["GIT_COMMITTER_EMAIL"] = "tests@heaven.invalid";
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

    public void Dispose() => directory.Dispose();
}
