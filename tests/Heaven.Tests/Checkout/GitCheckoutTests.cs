using Heaven.Checkout;
using Heaven.Model;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Checkout;

public sealed class GitCheckoutTests : IDisposable
{
    private readonly CheckoutBench bench = new();

    public void Dispose() => bench.Dispose();

    [Fact]
    public async Task ACheckoutAtASha_HasTheFilesOfThatCommitNotOfTheBranchHead()
    {
        var first = bench.Source.Commit("first", ("app.txt", "version 1"), ("config/deploy.rb", "set :stage"));
        bench.Source.Commit("second", ("app.txt", "version 2"));
        var sink = new RecordingSink();

        await using var worktree = await bench.Checkout().PrepareAsync(bench.Request(first), sink, CancellationToken.None);

        File.ReadAllText(Path.Combine(worktree.Path, "app.txt")).ShouldBe("version 1");
        File.ReadAllText(Path.Combine(worktree.Path, "config", "deploy.rb")).ShouldBe("set :stage");
        TestGit.Run(worktree.Path, "rev-parse", "HEAD").ShouldBe(first);
        TestGit.Run(worktree.Path, "status", "--porcelain").ShouldBeEmpty();
        Path.GetDirectoryName(Path.GetDirectoryName(worktree.Path)).ShouldBe(bench.WorktreesPath);
        Path.GetFileName(Path.GetDirectoryName(worktree.Path)).ShouldStartWith("42-");
        Directory.Exists(bench.MirrorPath).ShouldBeTrue();
        File.ReadAllText(Path.Combine(bench.MirrorPath, "config")).ShouldContain("bare = true");
        sink.Lines.ShouldBe(
        [
            (OutputStream.Heaven, "Fetching atmos/my-robot..."),
            (OutputStream.Heaven, $"Checked out {first[..8]} (ref main)"),
        ]);
    }

    [Fact]
    public async Task ASecondDeploymentOfANewerSha_FetchesIntoTheSameMirrorAndBothWorktreesCoexist()
    {
        var checkout = bench.Checkout();
        var first = bench.Source.Commit("first", ("app.txt", "version 1"));
        await using var older = await checkout.PrepareAsync(bench.Request(first, deploymentId: 1), new RecordingSink(), CancellationToken.None);
        var second = bench.Source.Commit("second", ("app.txt", "version 2"));
        var sink = new RecordingSink();

        await using var newer = await checkout.PrepareAsync(bench.Request(second, deploymentId: 2, @ref: "refs/heads/main"), sink, CancellationToken.None);

        sink.Text.ShouldContain("Fetching atmos/my-robot...");
        newer.Path.ShouldNotBe(older.Path);
        File.ReadAllText(Path.Combine(older.Path, "app.txt")).ShouldBe("version 1");
        File.ReadAllText(Path.Combine(newer.Path, "app.txt")).ShouldBe("version 2");
        Directory.GetDirectories(Path.Combine(bench.DataPath, "repositories", "atmos")).ShouldBe([bench.MirrorPath]);
    }

    [Fact]
    public async Task ARedeployOfAFetchedSha_DoesNotFetchAgain()
    {
        var checkout = bench.Checkout(git: bench.WrapperGit());
        var sha = bench.Source.Commit("first", ("app.txt", "version 1"));
        await (await checkout.PrepareAsync(bench.Request(sha), new RecordingSink(), CancellationToken.None)).DisposeAsync();
        File.Delete(bench.CallLog);
        var sink = new RecordingSink();

        await using var again = await checkout.PrepareAsync(bench.Request(sha.ToUpperInvariant()), sink, CancellationToken.None);

        File.ReadAllText(Path.Combine(again.Path, "app.txt")).ShouldBe("version 1");
        sink.Text.ShouldBe([$"Using {sha[..8]} from the mirror of atmos/my-robot", $"Checked out {sha[..8]} (ref main)"]);
        bench.ReadCallLog().ShouldNotContain(" fetch ");
    }

    [Fact]
    public async Task ACommitOnNoBranch_IsFetchedByItsId()
    {
        var main = bench.Source.Commit("base", ("app.txt", "base"));
        var abandoned = bench.Source.Commit("abandoned", ("app.txt", "abandoned"));
        bench.Source.ResetMainTo(main);
        // GitHub serves any commit it has by id; a plain git server has to be told to.
        TestGit.Run(bench.Source.BarePath, "config", "uploadpack.allowAnySHA1InWant", "true");

        await using var worktree = await bench.Checkout().PrepareAsync(bench.Request(abandoned), new RecordingSink(), CancellationToken.None);

        File.ReadAllText(Path.Combine(worktree.Path, "app.txt")).ShouldBe("abandoned");
    }

    [Fact]
    public async Task ParallelCheckoutsOfOneRepository_AllSucceedWithTheirOwnFiles()
    {
        var checkout = bench.Checkout();
        var shas = Enumerable.Range(1, 4).Select(i => bench.Source.Commit($"commit {i}", ("app.txt", $"version {i}"))).ToList();

        var worktrees = await Task.WhenAll(shas.Select((sha, i) =>
            Task.Run(() => checkout.PrepareAsync(bench.Request(sha, deploymentId: i), new RecordingSink(), CancellationToken.None))));
        try
        {
            for (var i = 0; i < shas.Count; i++)
            {
                File.ReadAllText(Path.Combine(worktrees[i].Path, "app.txt")).ShouldBe($"version {i + 1}");
            }

            worktrees.Select(w => w.Path).Distinct().Count().ShouldBe(4);
        }
        finally
        {
            await Task.WhenAll(worktrees.Select(w => w.DisposeAsync().AsTask()));
        }

        Directory.GetFileSystemEntries(bench.WorktreesPath).ShouldBeEmpty();
    }

    [Fact]
    public async Task Dispose_RemovesTheDeploymentsFolderWithEverythingInIt()
    {
        var sha = bench.Source.Commit("first", ("app.txt", "version 1"));
        var worktree = await bench.Checkout().PrepareAsync(bench.Request(sha), new RecordingSink(), CancellationToken.None);
        // What a deploy leaves behind: build output, and a folder it cannot write to (as Go's module cache is).
        File.WriteAllText(Path.Combine(worktree.Path, "build.log"), "untracked");
        var locked = Path.Combine(worktree.Path, "cache", "module");
        Directory.CreateDirectory(locked);
        File.WriteAllText(Path.Combine(locked, "file"), "x");
        File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserExecute);

        await worktree.DisposeAsync();
        await worktree.DisposeAsync();

        Directory.Exists(Path.GetDirectoryName(worktree.Path)).ShouldBeFalse();
        Directory.GetFileSystemEntries(bench.WorktreesPath).ShouldBeEmpty();
    }

    [Fact]
    public async Task TheCheckoutIsARepositoryOfItsOwn_WithNothingPointingIntoTheMirror()
    {
        var sha = bench.Source.Commit("first", ("app.txt", "version 1"));

        await using var worktree = await bench.Checkout().PrepareAsync(bench.Request(sha), new RecordingSink(), CancellationToken.None);

        // A deploy gets its own .git: no worktree link, no alternates, no hard link into the mirror's
        // objects (a deploy that may write its checkout could otherwise change the mirror's files).
        Directory.Exists(Path.Combine(worktree.Path, ".git")).ShouldBeTrue("the checkout's .git is a folder, not a link to the mirror");
        File.Exists(Path.Combine(worktree.Path, ".git", "objects", "info", "alternates")).ShouldBeFalse();
        Directory.Exists(Path.Combine(bench.MirrorPath, "worktrees")).ShouldBeFalse();
        using (var find = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("find", [Path.Combine(worktree.Path, ".git", "objects"), "-type", "f", "-links", "+1"]) { RedirectStandardOutput = true })!)
        {
            (await find.StandardOutput.ReadToEndAsync()).ShouldBeEmpty("object files hard-linked with the mirror's");
            await find.WaitForExitAsync();
        }

        // What a deploy script asks git reads as in a clone from GitHub.
        TestGit.Run(worktree.Path, "rev-parse", "HEAD").Trim().ShouldBe(sha);
        TestGit.Run(worktree.Path, "config", "remote.origin.url").Trim().ShouldBe(bench.Source.FileUrl);
        TestGit.Run(worktree.Path, "status", "--porcelain").ShouldBeEmpty();
    }

    [Fact]
    public async Task AfterTheDeployWasCancelled_DisposeStillRemovesTheWorktree()
    {
        var sha = bench.Source.Commit("first", ("app.txt", "version 1"));
        using var deploy = new CancellationTokenSource();
        var worktree = await bench.Checkout().PrepareAsync(bench.Request(sha), new RecordingSink(), deploy.Token);

        await deploy.CancelAsync();
        await worktree.DisposeAsync();

        Directory.Exists(Path.GetDirectoryName(worktree.Path)).ShouldBeFalse();
    }

    [Fact]
    public async Task CancellingWhileTheFilesAreWritten_LeavesNoWorktreeBehind()
    {
        var sha = bench.Source.Commit("first", ("app.txt", "version 1"));
        var marker = Path.Combine(bench.Root, "checkout-started");
        var git = bench.WrapperGit($$"""if [[ " $* " == *" checkout "* ]]; then touch "{{marker}}"; sleep 30; fi""");
        using var cancel = new CancellationTokenSource();

        var prepare = bench.Checkout(git: git).PrepareAsync(bench.Request(sha), new RecordingSink(), cancel.Token);
        await WaitForFileAsync(marker);
        // git sleeps 30 s: stopped promptly, it is gone long before that.
        var started = DateTime.UtcNow;
        await cancel.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(() => prepare);
        (DateTime.UtcNow - started).ShouldBeLessThan(TimeSpan.FromSeconds(20));
        Directory.GetFileSystemEntries(bench.WorktreesPath).ShouldBeEmpty();
    }

    [Fact]
    public async Task CancellingAFetch_StopsGitPromptly()
    {
        var sha = bench.Source.Commit("first", ("app.txt", "version 1"));
        var marker = Path.Combine(bench.Root, "fetch-started");
        var git = bench.WrapperGit($$"""if [[ " $* " == *" fetch "* ]]; then touch "{{marker}}"; sleep 30; fi""");
        using var cancel = new CancellationTokenSource();

        var prepare = bench.Checkout(git: git).PrepareAsync(bench.Request(sha), new RecordingSink(), cancel.Token);
        await WaitForFileAsync(marker);
        // git sleeps 30 s: stopped promptly, it is gone long before that.
        var started = DateTime.UtcNow;
        await cancel.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(() => prepare);
        (DateTime.UtcNow - started).ShouldBeLessThan(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task AFetchThatTakesTooLong_FailsSayingSo()
    {
        var sha = bench.Source.Commit("first", ("app.txt", "version 1"));
        var git = bench.WrapperGit("""if [[ " $* " == *" fetch "* ]]; then sleep 30; fi""");
        var checkout = bench.Checkout(git: git, limits: new CheckoutLimits { Fetch = TimeSpan.FromSeconds(1) });

        var error = await Should.ThrowAsync<CheckoutException>(() => checkout.PrepareAsync(bench.Request(sha), new RecordingSink(), CancellationToken.None));

        error.Message.ShouldBe("fetching atmos/my-robot failed: timed out after 1 s");
    }

    [Theory]
    [InlineData("foo bar", "invalid ref 'foo bar': it contains a space")]
    [InlineData("$(reboot)", "invalid ref '$(reboot)': it contains '$', which a shell would interpret")]
    [InlineData("-foo", "invalid ref '-foo': it starts with '-'")]
    [InlineData("foo\nFAKE LOG LINE", "invalid ref 'foo\\u000aFAKE LOG LINE': it contains a control character")]
    public async Task AnInvalidRef_IsRefusedBeforeGitRuns(string @ref, string message)
    {
        var git = bench.WrapperGit();

        var error = await Should.ThrowAsync<CheckoutException>(() =>
            bench.Checkout(git: git).PrepareAsync(bench.Request(new string('a', 40), @ref: @ref), new RecordingSink(), CancellationToken.None));

        error.Message.ShouldBe(message);
        Directory.Exists(Path.Combine(bench.DataPath, "repositories")).ShouldBeFalse();
        bench.ReadCallLog().ShouldBeEmpty();
    }

    [Theory]
    [InlineData("1a2b3c4")]
    [InlineData("master")]
    [InlineData("1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0g")]
    public async Task AnInvalidSha_IsRefusedBeforeGitRuns(string sha)
    {
        var error = await Should.ThrowAsync<CheckoutException>(() =>
            bench.Checkout().PrepareAsync(bench.Request(sha), new RecordingSink(), CancellationToken.None));

        error.Message.ShouldBe($"invalid sha '{sha}': a deployment names its commit by 40 hexadecimal characters");
        Directory.Exists(Path.Combine(bench.DataPath, "repositories")).ShouldBeFalse();
    }

    [Fact]
    public async Task AShaTheRepositoryDoesNotHave_IsNotFound()
    {
        bench.Source.Commit("first", ("app.txt", "version 1"));
        var unknown = "0123456789abcdef0123456789abcdef01234567";
        var sink = new RecordingSink();

        var error = await Should.ThrowAsync<CheckoutException>(() => bench.Checkout().PrepareAsync(bench.Request(unknown), sink, CancellationToken.None));

        error.Message.ShouldStartWith("commit 01234567 was not found in atmos/my-robot: it is on no branch or tag, and fetching it by id failed (");
        Directory.GetFileSystemEntries(bench.DataPath, "*", SearchOption.TopDirectoryOnly).Select(Path.GetFileName).ShouldBe(["repositories"]);
    }

    [Fact]
    public async Task AnUnreachableCloneUrl_FailsWithGitsReasonInOneShortLine()
    {
        var sink = new RecordingSink();

        var error = await Should.ThrowAsync<CheckoutException>(() =>
            bench.Checkout().PrepareAsync(bench.Request(new string('a', 40), cloneUrl: "file:///nonexistent/repo.git"), sink, CancellationToken.None));

        error.Message.ShouldBe("fetching atmos/my-robot failed: '/nonexistent/repo.git' does not appear to be a git repository");
        sink.Lines.ShouldContain((OutputStream.Stderr, "fatal: '/nonexistent/repo.git' does not appear to be a git repository"));
        Directory.GetFileSystemEntries(bench.WorktreesPath).ShouldBeEmpty();
    }

    [Fact]
    public async Task AnUnreachableServer_FailsWithoutWaiting()
    {
        // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        var error = await Should.ThrowAsync<CheckoutException>(() =>
            bench.Checkout(cloneHosts: ["127.0.0.1"]).PrepareAsync(bench.Request(new string('a', 40), cloneUrl: "http://127.0.0.1:9/atmos/my-robot.git"), new RecordingSink(), CancellationToken.None));

        error.Message.ShouldStartWith("fetching atmos/my-robot failed: unable to access 'http://127.0.0.1:9/atmos/my-robot.git/': ");
        error.Message.Split('\n').Length.ShouldBe(1);
    }

    [Theory]
    [InlineData("..", "invalid repository name '..': it is not of the form owner/name")]
    [InlineData("../etc", "invalid repository name '../etc': '.' and '..' are not repository names")]
    [InlineData("atmos/..", "invalid repository name 'atmos/..': '.' and '..' are not repository names")]
    [InlineData("atmos/my-robot/../../x", "invalid repository name 'atmos/my-robot/../../x': it is not of the form owner/name")]
    [InlineData("atmos/my robot", "invalid repository name 'atmos/my robot': only letters, digits, '-', '_' and '.' are allowed")]
    [InlineData("/etc/passwd", "invalid repository name '/etc/passwd': it is not of the form owner/name")]
    public async Task AHostileRepositoryName_IsRefused(string repository, string message)
    {
        var error = await Should.ThrowAsync<CheckoutException>(() =>
            bench.Checkout().PrepareAsync(bench.Request(new string('a', 40), repository: repository), new RecordingSink(), CancellationToken.None));

        error.Message.ShouldBe(message);
        Directory.GetFileSystemEntries(bench.DataPath).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("-uhack")]
    [InlineData("--upload-pack=touch${IFS}/tmp/heaven-pwned")]
    [InlineData("ext::sh -c touch% /tmp/heaven-pwned")]
    [InlineData("https://x-access-token:ghs_embedded@github.com/atmos/my-robot.git")]
    [InlineData("ssh://-oProxyCommand=touch${IFS}/tmp/heaven-pwned/atmos/my-robot.git")]
    public async Task AHostileCloneUrl_IsRefusedWithoutQuotingIt(string cloneUrl)
    {
        var git = bench.WrapperGit();

        var error = await Should.ThrowAsync<CheckoutException>(() =>
            bench.Checkout(git: git).PrepareAsync(bench.Request(new string('a', 40), cloneUrl: cloneUrl), new RecordingSink(), CancellationToken.None));

        error.Message.ShouldStartWith("invalid clone URL for atmos/my-robot: ");
        error.Message.ShouldNotContain("ghs_embedded");
        error.Message.ShouldNotContain("touch");
        bench.ReadCallLog().ShouldBeEmpty();
        Directory.GetFileSystemEntries(bench.DataPath).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("https://evil.example/atmos/my-robot.git")]
    [InlineData("git@evil.example:atmos/my-robot.git")]
    [InlineData("ssh://git@EVIL.example:2222/atmos/my-robot.git")]
    [InlineData("http://evil.example:443/atmos/my-robot.git")]
    public async Task ACloneUrlOnAnotherHost_IsRefusedNamingTheSettingBeforeGitRuns(string cloneUrl)
    {
        var git = bench.WrapperGit();

        var error = await Should.ThrowAsync<CheckoutException>(() =>
            bench.Checkout(git: git, cloneHosts: ["git.example.com"]).PrepareAsync(bench.Request(new string('a', 40), cloneUrl: cloneUrl), new RecordingSink(), CancellationToken.None));

        error.Message.ShouldBe("clone URL host evil.example is not GitHub:WebUrl's host (github.com); add it to GitHub:CloneHosts");
        bench.ReadCallLog().ShouldBeEmpty();
        Directory.GetFileSystemEntries(bench.DataPath).ShouldBeEmpty();
        bench.Logger.Messages.ShouldContain("Deployment 42 of atmos/my-robot was refused: " + error.Message);
    }

    [Fact]
    public async Task ALocalCloneUrl_IsRefusedUnlessLocalRepositoriesAreAllowed()
    {
        var git = bench.WrapperGit();
        var sha = bench.Source.Commit("first", ("app.txt", "version 1"));

        var error = await Should.ThrowAsync<CheckoutException>(() =>
            bench.Checkout(git: git, allowLocal: false).PrepareAsync(bench.Request(sha), new RecordingSink(), CancellationToken.None));

        error.Message.ShouldBe("the clone URL is a local repository (file://), which is only fetched with Checkout:AllowLocalRepositories=true");
        bench.ReadCallLog().ShouldBeEmpty();
        Directory.GetFileSystemEntries(bench.DataPath).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("https://GitHub.com/atmos/my-robot.git", "https://github.com/")]
    [InlineData("git@github.com:atmos/my-robot.git", "https://github.com/")]
    [InlineData("ssh://git@ghe.example.com:2222/atmos/my-robot.git", "https://ghe.example.com/")]
    [InlineData("https://git.example.com/atmos/my-robot.git", "https://github.com/")]
    [InlineData("git@GIT.example.com:atmos/my-robot.git", "https://github.com/")]
    public async Task ACloneUrlOnGitHubsHostOrACloneHost_IsFetched(string cloneUrl, string webUrl)
    {
        // This machine reaches no server: the fetch fails at once, after the rule let it through.
        var git = bench.WrapperGit("""if [[ " $* " == *" fetch "* ]]; then echo "fatal: offline" >&2; exit 128; fi""");

        var error = await Should.ThrowAsync<CheckoutException>(() =>
            bench.Checkout(git: git, webUrl: webUrl, cloneHosts: ["git.example.com"]).PrepareAsync(bench.Request(new string('a', 40), cloneUrl: cloneUrl), new RecordingSink(), CancellationToken.None));

        error.Message.ShouldBe("fetching atmos/my-robot failed: offline");
        bench.ReadCallLog().ShouldContain(" fetch ");
    }

    [Fact]
    public async Task RepositoryNamesDifferingInCase_ShareOneMirror()
    {
        var checkout = bench.Checkout();
        var sha = bench.Source.Commit("first", ("app.txt", "version 1"));

        await using (await checkout.PrepareAsync(bench.Request(sha, repository: "Atmos/My-Robot"), new RecordingSink(), CancellationToken.None))
        {
        }

        var sink = new RecordingSink();
        await using (await checkout.PrepareAsync(bench.Request(sha), sink, CancellationToken.None))
        {
        }

        sink.Text.First().ShouldBe($"Using {sha[..8]} from the mirror of atmos/my-robot");
        Directory.GetDirectories(Path.Combine(bench.DataPath, "repositories")).Select(Path.GetFileName).ShouldBe(["atmos"]);
    }

    [Fact]
    public async Task ALockHeldByAnotherProcess_MakesTheCheckoutWaitForIt()
    {
        var clock = new WatchedClock();
        var checkout = bench.Checkout(time: clock);
        var first = bench.Source.Commit("first", ("app.txt", "version 1"));
        await (await checkout.PrepareAsync(bench.Request(first), new RecordingSink(), CancellationToken.None)).DisposeAsync();
        var second = bench.Source.Commit("second", ("app.txt", "version 2"));

        // Another Heaven process sharing the data directory holds the mirror's lock file.
        var lockFile = new FileStream(Path.Combine(bench.MirrorPath, "heaven.lock"), FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        var before = clock.Requested.Count;
        var waiting = Task.Run(() => checkout.PrepareAsync(bench.Request(second), new RecordingSink(), CancellationToken.None));
        // It finds the lock taken and tries again after 50, 100, 200 ms (the retry timers it sets on its
        // clock; git's own timeouts are minutes): three failed tries, and it is still waiting.
        await Poll.UntilAsync(
            () => waiting.IsCompleted || clock.Requested.Skip(before).Count(t => t < TimeSpan.FromSeconds(2)) >= 3,
            "the checkout to retry the held lock three times");
        waiting.IsCompleted.ShouldBeFalse("the checkout went ahead while another process held the mirror's lock");
        await lockFile.DisposeAsync();

        await using var worktree = await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        File.ReadAllText(Path.Combine(worktree.Path, "app.txt")).ShouldBe("version 2");
    }

    [Fact]
    public async Task ALockNeverReleased_EndsTheWaitWithAnError()
    {
        var first = bench.Source.Commit("first", ("app.txt", "version 1"));
        await (await bench.Checkout().PrepareAsync(bench.Request(first), new RecordingSink(), CancellationToken.None)).DisposeAsync();
        await using var lockFile = new FileStream(Path.Combine(bench.MirrorPath, "heaven.lock"), FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        var checkout = bench.Checkout(limits: new CheckoutLimits { LockWait = TimeSpan.FromSeconds(1) });

        var error = await Should.ThrowAsync<CheckoutException>(() => checkout.PrepareAsync(bench.Request(first), new RecordingSink(), CancellationToken.None));

        error.Message.ShouldBe("timed out after 1 s waiting for the lock on the mirror of atmos/my-robot");
    }

    [Fact]
    public async Task AMissingGit_IsACheckoutErrorNamingTheSetting()
    {
        var error = await Should.ThrowAsync<CheckoutException>(() =>
            bench.Checkout(git: "/nonexistent/git").PrepareAsync(bench.Request(new string('a', 40)), new RecordingSink(), CancellationToken.None));

        error.Message.ShouldBe("git (/nonexistent/git) could not be started; install git or set Git:Executable");
    }

    private static Task WaitForFileAsync(string path) => Poll.UntilAsync(() => File.Exists(path), $"git to create {path}");
}
