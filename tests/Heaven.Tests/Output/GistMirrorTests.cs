using System.Text;
using Heaven.GitHub;
using Heaven.Masking;
using Heaven.Model;
using Heaven.Output;
using Heaven.Storage;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Heaven.Tests.Output;

/// <summary>The gist mirror: one secret gist per deployment, throttled updates, files under 1 MB, never a failed deploy.</summary>
public sealed class GistMirrorTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task TheGist_IsCreatedOnceWhenTheDeployStarts_WithHeavensDescription()
    {
        var gitHub = new RecordingGitHub();
        await using var mirror = Mirror(gitHub);

        mirror.Start();
        mirror.Start();

        await Poll.UntilAsync(() => mirror.HtmlUrl is not null, "the gist is created");
        mirror.HtmlUrl.ShouldBe("https://gist.example.com/gist-1");
        mirror.Gist!.Id.ShouldBe("gist-1");
        var create = gitHub.Calls.ShouldHaveSingleItem();
        create.Kind.ShouldBe("create");
        create.Description.ShouldBe("Heaven deployment 42 for octo/app");
        create.Files.Keys.ShouldBe(["heaven-deployment-42-01.log"]);
        create.Files.Values.Single()!.ShouldNotBeNullOrWhiteSpace();
    }

    [Fact]
    public async Task WhileOutputArrives_UpdatesAreThrottledAndCoalesced()
    {
        var time = new TestClock();
        var gitHub = new RecordingGitHub();
        await using var mirror = Mirror(gitHub, time);
        mirror.Start();
        await Poll.UntilAsync(() => gitHub.Creates == 1, "the gist is created");

        for (var i = 0; i < 50; i++)
        {
            mirror.OnChunk(Chunk($"line {i}"), 1);
        }

        // Throttled: the output woke the mirror, and it sleeps out the interval since the create without sending.
        await ThrottledAsync(time, Interval);
        gitHub.Updates.ShouldBe(0);

        time.Advance(Interval);
        await Poll.UntilAsync(() => gitHub.Updates == 1, "one update after the interval");
        gitHub.Text.ShouldBe(Lines(Enumerable.Range(0, 50).Select(i => $"line {i}")));

        mirror.OnChunk(Chunk("line 50"), 1);
        await ThrottledAsync(time, Interval);
        time.Advance(TimeSpan.FromSeconds(1));
        // The fake clock fires what is due while it is advanced: the mirror's timer has 4 s to go.
        time.Pending.ShouldBe([TimeSpan.FromSeconds(4)]);
        gitHub.Updates.ShouldBe(1);

        time.Advance(TimeSpan.FromSeconds(4));
        await Poll.UntilAsync(() => gitHub.Updates == 2, "the next update one interval after the last");
        gitHub.Text.ShouldEndWith("line 49\nline 50\n");

        // A quiet minute sends nothing: nothing new was written. Completing the mirror is the barrier:
        // once its worker has ended, every call it made is recorded (and with nothing new, the end sends nothing either).
        time.Advance(TimeSpan.FromMinutes(1));
        await mirror.CompleteAsync(default);
        gitHub.Updates.ShouldBe(2);
    }

    [Fact]
    public async Task AtCompletion_TheFinalUpdateIsSentAtOnce_WithoutWaitingForTheInterval()
    {
        var time = new TestClock();
        var gitHub = new RecordingGitHub();
        await using var mirror = Mirror(gitHub, time);
        mirror.Start();
        await Poll.UntilAsync(() => gitHub.Creates == 1, "the gist is created");
        mirror.OnChunk(Chunk("first"), 1);
        mirror.OnChunk(Chunk("last"), 1);

        await mirror.CompleteAsync(default);

        gitHub.Updates.ShouldBe(1);
        gitHub.Text.ShouldBe("first\nlast\n");
    }

    [Fact]
    public async Task ADeployThatEndsBeforeTheGistExists_GetsOneCreateWithAllItsOutput()
    {
        var gitHub = new RecordingGitHub();
        await using var mirror = Mirror(gitHub);
        mirror.OnChunk(Chunk("only", "lines"), 2);

        await mirror.CompleteAsync(default);

        gitHub.Calls.Select(c => c.Kind).ShouldBe(["create"]);
        gitHub.Text.ShouldBe("only\nlines\n");
    }

    [Fact]
    public async Task ADeployWithoutOutput_GetsAGistThatSaysSo()
    {
        var gitHub = new RecordingGitHub();
        await using var mirror = Mirror(gitHub);

        await mirror.CompleteAsync(default);

        gitHub.Text.ShouldBe("Heaven deployment 42 for octo/app printed no output.\n");
    }

    [Fact]
    public async Task BlankOutput_NeverBecomesABlankFile_WhichGitHubWouldRefuse()
    {
        var gitHub = new RecordingGitHub();
        await using var mirror = Mirror(gitHub);
        mirror.OnChunk(Chunk("", "  "), 2);

        await mirror.CompleteAsync(default);

        gitHub.Files.ShouldHaveSingleItem().Value.ShouldNotBeNullOrWhiteSpace();
    }

    [Fact]
    public async Task OnlyChangedFilesAreSent()
    {
        var time = new TestClock();
        var gitHub = new RecordingGitHub();
        await using var mirror = Mirror(gitHub, time);
        var line = new string('a', 999);
        var lines = Enumerable.Range(0, 1500).Select(_ => line).ToArray();
        mirror.OnChunk(Chunk(lines), lines.Length);
        mirror.Start();
        await Poll.UntilAsync(() => gitHub.Creates == 1, "the gist is created");
        gitHub.Files.Count.ShouldBe(2);

        mirror.OnChunk(Chunk("one more"), 1);
        await ThrottledAsync(time, Interval);
        time.Advance(Interval);
        await Poll.UntilAsync(() => gitHub.Updates == 1, "the update");

        gitHub.Calls[^1].Files.Keys.ShouldBe(["heaven-deployment-42-02.log"]);
        gitHub.Text.ShouldBe(Lines(lines.Append("one more")));
    }

    [Fact]
    public async Task ALogOverAMegabyte_IsSplitIntoFilesUnderOneMegabyte_AtLineEnds()
    {
        var gitHub = new RecordingGitHub();
        await using var mirror = Mirror(gitHub);
        // Two-byte characters, so characters and bytes differ.
        var lines = Enumerable.Range(0, 30_000).Select(i => $"{i:D6} " + new string('é', 50)).ToArray();
        foreach (var batch in lines.Chunk(1000))
        {
            mirror.OnChunk(Chunk(batch), batch.Length);
        }

        await mirror.CompleteAsync(default);

        var files = gitHub.Files;
        files.Count.ShouldBe(4);
        files.Select(f => f.Key).ShouldBe(Enumerable.Range(1, 4).Select(i => $"heaven-deployment-42-{i:00}.log"));
        files.ShouldAllBe(f => Encoding.UTF8.GetByteCount(f.Value) < 1_000_000 && f.Value.EndsWith('\n'));
        gitHub.Text.ShouldBe(Lines(lines));
    }

    [Fact]
    public async Task ALogBeyondTheGistBudget_KeepsHeadAndTail_WithAnExactElisionNote()
    {
        var gitHub = new RecordingGitHub();
        await using var mirror = Mirror(gitHub, logUrl: "https://heaven.example.com/deployments/42");
        var lines = Enumerable.Range(0, 100_000).Select(i => $"line {i:D6} ".PadRight(99, '-')).ToArray();
        foreach (var batch in lines.Chunk(2500))
        {
            mirror.OnChunk(Chunk(batch), batch.Length);
        }

        await mirror.CompleteAsync(default);

        // 10 MB written; the gist keeps its 4 MB budget.
        var files = gitHub.Files;
        files.Count.ShouldBe(5);
        files.ShouldAllBe(f => Encoding.UTF8.GetByteCount(f.Value) < 1_000_000);
        var kept = gitHub.Text.Split('\n')[..^1];
        var note = kept.Single(l => l.StartsWith("[Heaven:"));
        var head = kept.TakeWhile(l => l != note).ToArray();
        var tail = kept.SkipWhile(l => l != note).Skip(1).ToArray();
        head.ShouldBe(lines[..head.Length]);
        tail.ShouldBe(lines[^tail.Length..]);
        (head.Length * 100).ShouldBeInRange(2_000_000 - 100, 2_000_000);
        (tail.Length * 100).ShouldBeInRange(2_000_000 - 100, 2_000_000);
        var elided = lines.Length - head.Length - tail.Length;
        note.ShouldBe($"[Heaven: {elided * 100:N0} bytes ({elided:N0} lines) of output elided here; this gist keeps the first and last 2 MB; the whole log: https://heaven.example.com/deployments/42]");
    }

    [Fact]
    public async Task SecretsNeverReachTheGist()
    {
        const string token = "ghp_gistSecretToken0123456789abcdef";
        await using var host = await HeavenTestHost.StartAsync();
        var gitHub = new RecordingGitHub();
        await using var mirror = Mirror(gitHub);
        var masker = new SecretMasker();
        masker.Add(token);
        mirror.Start();
        await using (var log = new DeploymentLog(42, masker, host.Services.GetRequiredService<IHeavenDatabase>(), new OutputOptions(), TimeProvider.System, NullLogger<DeploymentLog>.Instance, mirror))
        {
            await log.WriteLineAsync(OutputStream.Stdout, $"using {token}", default);
            await log.WriteLineAsync(OutputStream.Stderr, $"url: https://u:{Uri.EscapeDataString(token)}@example.com", default);
            await log.WriteLineAsync(OutputStream.Stdout, "Authorization: Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"x-access-token:{token}")), default);
            await log.CompleteAsync(default);
        }

        await mirror.CompleteAsync(default);

        var everythingSent = string.Concat(gitHub.Calls.SelectMany(c => c.Files.Values));
        everythingSent.ShouldNotContain(token);
        everythingSent.ShouldNotContain(Uri.EscapeDataString(token));
        gitHub.Text.ShouldStartWith("using ***\nurl: https://u:***@example.com\nAuthorization: Basic ");
    }

    [Fact]
    public async Task TransientErrors_AreSwallowed_AndTheNextUpdateTriesAgain()
    {
        var time = new TestClock();
        var gitHub = new RecordingGitHub
        {
            Fail = (call, _) => call switch
            {
                1 => new GitHubTransientException("GitHub answered 502", null),
                2 => new HttpRequestException("connection reset"),
                _ => null,
            },
        };
        await using var mirror = Mirror(gitHub, time);
        mirror.OnChunk(Chunk("hello"), 1);
        mirror.Start();
        await Poll.UntilAsync(() => gitHub.Calls.Count == 1, "the first attempt");
        mirror.HtmlUrl.ShouldBeNull();

        await ThrottledAsync(time, Interval);
        time.Advance(Interval);
        await Poll.UntilAsync(() => gitHub.Calls.Count == 2, "the second attempt");
        await ThrottledAsync(time, Interval);
        time.Advance(Interval);
        await Poll.UntilAsync(() => mirror.HtmlUrl is not null, "the gist is created at the third attempt");

        gitHub.Text.ShouldBe("hello\n");
    }

    [Fact]
    public async Task GitHubsRetryAfter_IsHonoured()
    {
        var time = new TestClock();
        var gitHub = new RecordingGitHub { Fail = (call, _) => call == 1 ? new GitHubTransientException("rate limited", TimeSpan.FromSeconds(60)) : null };
        await using var mirror = Mirror(gitHub, time);
        mirror.Start();
        await Poll.UntilAsync(() => gitHub.Calls.Count == 1, "the first attempt");
        await ThrottledAsync(time, TimeSpan.FromSeconds(60));

        time.Advance(TimeSpan.FromSeconds(30));
        time.Pending.ShouldBe([TimeSpan.FromSeconds(30)]);
        gitHub.Calls.Count.ShouldBe(1);

        time.Advance(TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(() => gitHub.Creates == 1, "created after Retry-After");
    }

    [Fact]
    public async Task ARefusal_StopsTheMirror_WithoutFailingAnything()
    {
        var gitHub = new RecordingGitHub { Fail = (_, _) => new GitHubRejectedException("Resource not accessible by integration", 403) };
        await using var mirror = Mirror(gitHub);
        mirror.Start();
        mirror.OnChunk(Chunk("output"), 1);

        await mirror.CompleteAsync(default);
        mirror.OnChunk(Chunk("more"), 1);

        gitHub.Calls.Count.ShouldBe(1);
        mirror.HtmlUrl.ShouldBeNull();
    }

    [Fact]
    public async Task Settled_CompletesTheMomentTheGistIsCreated()
    {
        var time = new TestClock();
        var gitHub = new RecordingGitHub();
        await using var mirror = Mirror(gitHub, time);
        mirror.Settled.IsCompleted.ShouldBeFalse();

        mirror.Start();

        // No time passes on the fake clock: the runner is woken by the answer, not by a poll.
        await mirror.Settled.WaitAsync(TimeSpan.FromSeconds(10));
        mirror.Gist.ShouldNotBeNull();
    }

    [Fact]
    public async Task Settled_CompletesWhenGitHubRefusesTheGist_SoNothingWaitsForOne()
    {
        var gitHub = new RecordingGitHub { Fail = (_, _) => new GitHubRejectedException("Resource not accessible by integration", 403) };
        await using var mirror = Mirror(gitHub);

        mirror.Start();

        await mirror.Settled.WaitAsync(TimeSpan.FromSeconds(10));
        mirror.Gist.ShouldBeNull();
    }

    [Fact]
    public async Task Settled_KeepsWaitingAfterATransientFailure_ForTheRetry()
    {
        var time = new TestClock();
        var gitHub = new RecordingGitHub { Fail = (call, _) => call == 1 ? new GitHubTransientException("GitHub answered 502", null) : null };
        await using var mirror = Mirror(gitHub, time);
        mirror.Start();
        await Poll.UntilAsync(() => gitHub.Calls.Count == 1, "the first attempt");
        await ThrottledAsync(time, Interval);

        mirror.Settled.IsCompleted.ShouldBeFalse();
        time.Advance(Interval);

        await mirror.Settled.WaitAsync(TimeSpan.FromSeconds(10));
        mirror.Gist.ShouldNotBeNull();
    }

    [Fact]
    public async Task AGitHubThatNeverAnswers_DelaysCompletionOnlyByTheBoundedTime()
    {
        var time = new TestClock();
        var gitHub = new RecordingGitHub { Hold = new TaskCompletionSource().Task };
        await using var mirror = new GistMirror(gitHub, 42, "octo/app", new OutputOptions(), time, NullLogger<GistMirror>.Instance)
        {
            CompletionTimeout = TimeSpan.FromSeconds(10),
        };
        mirror.Start();
        mirror.OnChunk(Chunk("output"), 1);

        var completing = mirror.CompleteAsync(default);
        // It waits for GitHub for the completion timeout, on the mirror's clock, and not a moment longer.
        await time.SleepingAsync("the completion", left => left == TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        // Its timer is the one with a tick to go: not fired while the clock moved.
        time.Pending.ShouldContain(TimeSpan.FromTicks(1));
        completing.IsCompleted.ShouldBeFalse();
        time.Advance(TimeSpan.FromTicks(1));

        await Poll.SignalAsync(completing, "the completion to give up on GitHub");
        mirror.HtmlUrl.ShouldBeNull();
    }

    [Fact]
    public async Task ACallThatTakesTooLong_IsGivenUpAndRetried()
    {
        var time = new TestClock();
        var release = new TaskCompletionSource();
        var gitHub = new RecordingGitHub { Hold = release.Task };
        await using var mirror = new GistMirror(gitHub, 42, "octo/app", new OutputOptions(), time, NullLogger<GistMirror>.Instance)
        {
            CallTimeout = TimeSpan.FromMilliseconds(200),
        };
        mirror.Start();
        await Poll.UntilAsync(() => gitHub.Attempts == 1, "the first call is waiting");

        time.Advance(TimeSpan.FromMilliseconds(200));
        // Given up: the mirror sleeps until its next try, and the call it gave up on recorded nothing.
        await ThrottledAsync(time, new OutputOptions().GistUpdateInterval);
        gitHub.Calls.ShouldBeEmpty();
        release.SetResult();
        time.Advance(new OutputOptions().GistUpdateInterval);

        await Poll.UntilAsync(() => mirror.HtmlUrl is not null, "created on the retry");
    }

    [Theory]
    [InlineData(10)]
    [InlineData(100)]
    [InlineData(990_000)]
    public void Split_KeepsEveryPieceUnderTheLimit_AndLosesNothing(int limit)
    {
        var text = string.Concat(Enumerable.Range(0, 3000).Select(i => $"{i} é😀 {new string('x', i % 37)}\n"));

        var pieces = GistMirror.Split(text, limit);

        string.Concat(pieces).ShouldBe(text);
        pieces.ShouldAllBe(p => Encoding.UTF8.GetByteCount(p) <= limit);
        pieces.ShouldNotContain(p => char.IsHighSurrogate(p[p.Length - 1]));
    }

    private static GistMirror Mirror(RecordingGitHub gitHub, TimeProvider? time = null, string? logUrl = null) =>
        new(gitHub, 42, "octo/app", new OutputOptions { GistUpdateInterval = Interval }, time ?? TimeProvider.System, NullLogger<GistMirror>.Instance, logUrl);

    /// <summary>
    /// Waits until the mirror's background task sleeps on the fake clock with <paramref name="left"/> to
    /// go (its throttle), so moving the clock on now moves it for that wait.
    /// </summary>
    private static Task ThrottledAsync(TestClock time, TimeSpan left) => time.SleepingAsync("the mirror", t => t == left);

    /// <summary>Output lines in the form DeploymentLog hands them on.</summary>
    private static string Chunk(params string[] lines) => string.Concat(lines.Select(l => "o" + l + "\n"));

    private static string Lines(IEnumerable<string> lines) => string.Concat(lines.Select(l => l + "\n"));
}
