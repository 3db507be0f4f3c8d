using Heaven.Checkout;

namespace Heaven.Tests.Checkout;

/// <summary>
/// A deploy script is repository code: without isolation it can write into the mirror of its repository
/// (its config, hooks, attributes) so that the next git command Heaven runs starts its program. None of
/// that ever runs, and what git does run sees nothing of Heaven's environment.
/// </summary>
public sealed class PlantedGitConfigTests : IDisposable
{
    private const string SshCloneUrl = "ssh://git@127.0.0.1:9/atmos/my-robot.git";

    private readonly CheckoutBench bench = new();

    public PlantedGitConfigTests()
    {
        // The planted program: it leaves a mark, and what it could read.
        Evil = Path.Combine(bench.Root, "evil");
        Executable(Evil, $"""
            #!/bin/sh
            echo "$0 $*" >> "{Marker}"
            env >> "{Marker}"
            exit 1
            """);
        Hooks = Path.Combine(bench.Root, "hooks");
        Directory.CreateDirectory(Hooks);
        foreach (var hook in new[] { "post-checkout", "reference-transaction", "post-index-change", "pre-auto-gc" })
        {
            Executable(Path.Combine(Hooks, hook), $"#!/bin/sh\necho \"hook {hook}\" >> \"{Marker}\"\n");
        }
    }

    /// <summary>What a deploy may plant: settings added to the mirror's config, files put into it.</summary>
    public static TheoryData<string> Plantings => new()
    {
        "core.fsmonitor", "core.hooksPath", "hooks folder", "filter with .gitattributes", "filter with info/attributes",
        "core.sshCommand", "include.path", "includeIf", "remote.origin.uploadpack", "alternates", "url.insteadOf ext::",
    };

    /// <summary>Those git lets a command override, so they are harmless even when written while a checkout runs.</summary>
    public static TheoryData<string> OverriddenPlantings => new()
    {
        "core.fsmonitor", "core.hooksPath", "hooks folder", "core.sshCommand", "include.path", "includeIf",
        "remote.origin.uploadpack", "alternates", "url.insteadOf ext::",
    };

    private string Evil { get; }

    private string Hooks { get; }

    private string Marker => Path.Combine(bench.Root, "planted-program-ran");

    public void Dispose() => bench.Dispose();

    [Theory]
    [MemberData(nameof(Plantings))]
    public async Task WhatAnEarlierDeployPlantedInTheMirror_NeverRuns(string planting)
    {
        var checkout = bench.Checkout(cloneHosts: ["127.0.0.1"]);
        var first = bench.Source.Commit("first", ("app.txt", "version 1"), (".gitattributes", "* filter=x\n"));
        await (await checkout.PrepareAsync(bench.Request(first), new RecordingSink(), CancellationToken.None)).DisposeAsync();
        var (config, files) = Plant(planting);
        File.AppendAllText(Path.Combine(bench.MirrorPath, "config"), config);
        foreach (var (path, content) in files)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(bench.MirrorPath, path))!);
            Executable(Path.Combine(bench.MirrorPath, path), content);
        }

        var second = bench.Source.Commit("second", ("app.txt", "version 2"));
        var sink = new RecordingSink();

        if (planting == "core.sshCommand")
        {
            // Nothing listens there: without the planted program, ssh itself is refused.
            await Should.ThrowAsync<CheckoutException>(() => checkout.PrepareAsync(bench.Request(second, cloneUrl: SshCloneUrl), sink, CancellationToken.None));
        }
        else
        {
            await using var worktree = await checkout.PrepareAsync(bench.Request(second), sink, CancellationToken.None);
            File.ReadAllText(Path.Combine(worktree.Path, "app.txt")).ShouldBe("version 2");
        }

        File.Exists(Marker).ShouldBeFalse($"the planted program ran:\n{(File.Exists(Marker) ? File.ReadAllText(Marker) : "")}");
        sink.Text.ShouldContain(l => l.StartsWith("Removed from the mirror of atmos/my-robot what Heaven did not put there: ", StringComparison.Ordinal));
        File.ReadAllText(Path.Combine(bench.MirrorPath, "config")).ShouldBe($"""
            [core]
            	repositoryformatversion = 0
            	filemode = true
            	bare = true
            [remote "origin"]
            	url = {(planting == "core.sshCommand" ? SshCloneUrl : bench.Source.FileUrl)}

            """.Replace("\r", ""));
    }

    [Theory]
    [MemberData(nameof(OverriddenPlantings))]
    public async Task WhatAConcurrentDeployPlantsWhileACheckoutRuns_NeverRuns(string planting)
    {
        // Written into the mirror right before every git command, after Heaven has repaired its config:
        // what a deploy of another environment of the repository could do at any moment.
        var (config, files) = Plant(planting);
        var configFile = Path.Combine(bench.Root, "planted-config");
        File.WriteAllText(configFile, config);
        var copies = string.Join('\n', files.Select((f, i) =>
        {
            var source = Path.Combine(bench.Root, $"planted-file-{i}");
            File.WriteAllText(source, f.Content);
            var target = Path.Combine(bench.MirrorPath, f.Path);
            return $"""mkdir -p "{Path.GetDirectoryName(target)}" && cp "{source}" "{target}" && chmod +x "{target}" """;
        }));
        var git = bench.WrapperGit($$"""
            if [[ -f "{{bench.MirrorPath}}/config" ]]; then
              cat "{{configFile}}" >> "{{bench.MirrorPath}}/config"
              {{copies}}
            fi
            """);
        var checkout = bench.Checkout(git: git, cloneHosts: ["127.0.0.1"]);
        var first = bench.Source.Commit("first", ("app.txt", "version 1"));
        await (await bench.Checkout().PrepareAsync(bench.Request(first), new RecordingSink(), CancellationToken.None)).DisposeAsync();
        var second = bench.Source.Commit("second", ("app.txt", "version 2"));

        try
        {
            await using var worktree = await checkout.PrepareAsync(bench.Request(second, cloneUrl: planting == "core.sshCommand" ? SshCloneUrl : null), new RecordingSink(), CancellationToken.None);
            File.ReadAllText(Path.Combine(worktree.Path, "app.txt")).ShouldBe("version 2");
            bench.ReadCallLog().ShouldContain(" checkout --quiet --detach");
        }
        catch (CheckoutException) when (planting is "core.sshCommand" or "url.insteadOf ext::")
        {
            // No ssh server; a URL rewritten to ext:: is refused. Either way nothing planted ran.
        }

        bench.ReadCallLog().ShouldContain(" fetch ");
        File.Exists(Marker).ShouldBeFalse($"the planted program ran:\n{(File.Exists(Marker) ? File.ReadAllText(Marker) : "")}");
    }

    [Fact]
    public async Task APlantedCredentialHelper_IsNotAskedWhenTheServerWantsCredentials()
    {
        var served = Path.Combine(bench.Root, "served");
        var source = SourceRepository.Create(bench.Root, Path.Combine(served, "atmos", "my-robot.git"));
        await using var server = await DumbGitServer.StartAsync(served, requiredAuthorization: "Basic c2VjcmV0");
        var sha = source.Commit("first", ("app.txt", "private"));
        Directory.CreateDirectory(bench.MirrorPath);
        TestGit.Run(bench.Root, "init", "--quiet", "--bare", bench.MirrorPath);
        File.AppendAllText(Path.Combine(bench.MirrorPath, "config"), $"[credential]\n\thelper = {Evil}\n");
        var git = bench.WrapperGit($$"""printf '[credential]\n\thelper = {{Evil}}\n' >> "{{bench.MirrorPath}}/config" """);

        var error = await Should.ThrowAsync<CheckoutException>(() => bench.Checkout(git: git, cloneHosts: ["127.0.0.1"]).PrepareAsync(
            bench.Request(sha, cloneUrl: new Uri(server.BaseAddress, "atmos/my-robot.git").ToString()), new RecordingSink(), CancellationToken.None));

        error.Message.ShouldStartWith("fetching atmos/my-robot failed: ");
        File.Exists(Marker).ShouldBeFalse($"the planted helper ran:\n{(File.Exists(Marker) ? File.ReadAllText(Marker) : "")}");
    }

    [Fact]
    public async Task WhatGitRuns_SeesNoneOfHeavensEnvironment()
    {
        // Heaven's own environment, as an operator starts it: its secrets beside what git needs.
        var host = new Dictionary<string, string>
        {
            ["PATH"] = Environment.GetEnvironmentVariable("PATH")!,
            ["HOME"] = bench.Root,
            ["GITHUB_TOKEN"] = "ghp_HeavensOwnTokenFromTheEnvironment0001",
            ["DATABASE_URL"] = "postgres://heaven:DbPassword0001@db/heaven",
            ["HEROKU_API_KEY"] = "heroku-key-0001",
            ["GIT_DIR"] = "/somewhere/else",
            ["SSH_AUTH_SOCK"] = "/run/heaven-agent.sock",
        };
        // The program git legitimately runs for an ssh clone URL: the deployment's ssh command.
        var dump = Path.Combine(bench.Root, "ssh-environment");
        var ssh = Path.Combine(bench.Root, "ssh");
        Executable(ssh, $"#!/bin/sh\nenv > \"{dump}\"\nexit 1\n");
        var request = bench.Request(new string('a', 40), cloneUrl: SshCloneUrl) with
        {
            SshEnvironment = new Dictionary<string, string> { ["GIT_SSH_COMMAND"] = ssh, ["SSH_AUTH_SOCK"] = "/run/deployment-agent.sock" },
        };

        await Should.ThrowAsync<CheckoutException>(() => bench.Checkout(cloneHosts: ["127.0.0.1"], host: host).PrepareAsync(request, new RecordingSink(), CancellationToken.None));

        var seen = File.ReadAllLines(dump).Select(l => l.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
        string[] shellOwn = ["PWD", "OLDPWD", "SHLVL", "_"];
        seen.Keys.Where(k => !k.StartsWith("GIT_", StringComparison.Ordinal) && !shellOwn.Contains(k)).Order().ShouldBe(["GCM_INTERACTIVE", "HOME", "LC_ALL", "PATH", "SSH_AUTH_SOCK"]);
        seen["HOME"].ShouldBe(GitEnvironment.NoHome);
        seen["SSH_AUTH_SOCK"].ShouldBe("/run/deployment-agent.sock");
        var text = File.ReadAllText(dump);
        text.ShouldNotContain("/somewhere/else");
        text.ShouldNotContain("HeavensOwnToken");
        text.ShouldNotContain("DbPassword");
        text.ShouldNotContain("heroku-key");
    }

    [Fact]
    public void TheRepair_KeepsWhatGitInitWroteAboutTheRepository()
    {
        // A SHA-256 repository on a case-insensitive file system: settings git needs to read it at all.
        var mirror = Path.Combine(bench.Root, "sha256.git");
        TestGit.Run(bench.Root, "init", "--quiet", "--bare", "--object-format=sha256", mirror);
        TestGit.Run(mirror, "config", "core.ignorecase", "true");
        File.AppendAllText(Path.Combine(mirror, "config"), $"[filter \"x\"]\n\tsmudge = {Evil}\n[extensions]\n\tworktreeConfig = true\n");
        CloneSource.TryParse("https://github.com/atmos/my-robot.git", out var source, out _).ShouldBeTrue();

        var found = MirrorConfig.Repair(mirror, source!, TestGit.Run(mirror, "config", "--file", "config", "--null", "--list"));

        found.ShouldBe(["filter.x.smudge", "extensions.worktreeconfig"]);
        File.ReadAllText(Path.Combine(mirror, "config")).ShouldBe("""
            [core]
            	repositoryformatversion = 1
            	filemode = true
            	bare = true
            	ignorecase = true
            [extensions]
            	objectformat = sha256
            [remote "origin"]
            	url = https://github.com/atmos/my-robot.git

            """.Replace("\r", ""));
        TestGit.Run(bench.Root, "--git-dir=" + mirror, "rev-parse", "--show-object-format").ShouldBe("sha256");
        MirrorConfig.Repair(mirror, source!, TestGit.Run(mirror, "config", "--file", "config", "--null", "--list")).ShouldBeEmpty();
    }

    /// <summary>The config text and the files (relative to the mirror) of one planting.</summary>
    private (string Config, (string Path, string Content)[] Files) Plant(string planting)
    {
        var included = Path.Combine(bench.Root, "included-config");
        File.WriteAllText(included, $"[core]\n\tfsmonitor = {Evil}\n\thooksPath = {Hooks}\n\tsshCommand = {Evil}\n[filter \"x\"]\n\tsmudge = {Evil}\n\tprocess = {Evil}\n");
        var hooks = Directory.GetFiles(Hooks).Select(h => ("hooks/" + Path.GetFileName(h), File.ReadAllText(h))).ToArray();
        return planting switch
        {
            "core.fsmonitor" => ($"[core]\n\tfsmonitor = {Evil}\n", []),
            "core.hooksPath" => ($"[core]\n\thooksPath = {Hooks}\n", []),
            "hooks folder" => ("", hooks),
            "filter with .gitattributes" => ($"[filter \"x\"]\n\tsmudge = {Evil}\n\tprocess = {Evil}\n\tclean = {Evil}\n", []),
            "filter with info/attributes" => ($"[filter \"y\"]\n\tsmudge = {Evil}\n", [("info/attributes", "* filter=y\n")]),
            "core.sshCommand" => ($"[core]\n\tsshCommand = {Evil}\n", []),
            "include.path" => ($"[include]\n\tpath = {included}\n", []),
            "includeIf" => ($"[includeIf \"gitdir:/\"]\n\tpath = {included}\n", []),
            "remote.origin.uploadpack" => ($"[remote \"origin\"]\n\tuploadpack = {Evil}; git-upload-pack\n", []),
            "alternates" => ($"[core]\n\talternateRefsCommand = {Evil}\n", [("objects/info/alternates", Path.Combine(OtherRepository(), "objects") + "\n")]),
            "url.insteadOf ext::" => ($"[protocol \"ext\"]\n\tallow = always\n[url \"ext::{Evil} %S \"]\n\tinsteadOf = file://\n", []),
            _ => throw new ArgumentOutOfRangeException(nameof(planting), planting, null),
        };
    }

    /// <summary>A repository whose objects a planted alternates file lends the mirror (without the commit deployed, which is fetched).</summary>
    private string OtherRepository()
    {
        var path = Path.Combine(bench.Root, "other.git");
        if (!Directory.Exists(path))
        {
            TestGit.Run(bench.Root, "init", "--quiet", "--bare", path);
        }

        return path;
    }

    private static void Executable(string path, string text)
    {
        File.WriteAllText(path, text.Replace("\r", ""));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }
}
