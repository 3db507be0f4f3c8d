using System.Diagnostics;
using Heaven.Execution;
using Heaven.Model;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace Heaven.Tests.Execution;

/// <summary>Real bash, real processes, short grace periods: what a deploy's log and the machine show afterwards.</summary>
public sealed class ProcessRunnerTests
{
    /// <summary>Short stop periods, so stopping tests take a second, not the defaults' five.</summary>
    internal static readonly ProcessRunnerOptions ShortGraces = new()
    {
        InterruptGrace = TimeSpan.FromMilliseconds(500),
        TerminateGrace = TimeSpan.FromMilliseconds(500),
        KillWait = TimeSpan.FromSeconds(2),
        DrainAfterExit = TimeSpan.FromMilliseconds(300),
        SweepGrace = TimeSpan.FromMilliseconds(300),
        AbandonOutputAfter = TimeSpan.FromMilliseconds(300),
    };

    private readonly RecordingSink sink = new();

    [Fact]
    public async Task Lines_ArriveInOrderPerStreamWithTheirStream()
    {
        var result = await RunAsync("echo one; echo two >&2; echo three; echo four >&2");

        result.Succeeded.ShouldBeTrue();
        sink.Of(OutputStream.Stdout).ShouldBe(["one", "three"]);
        sink.Of(OutputStream.Stderr).ShouldBe(["two", "four"]);
        sink.Of(OutputStream.Heaven).ShouldBeEmpty();
    }

    [Fact]
    public async Task APipeClosedEarly_EndsTheWriterQuietly_AsInATerminal()
    {
        // `yes | head` must behave as in any shell: yes dies of SIGPIPE, silently, and the pipeline
        // succeeds. A child that inherited .NET's ignored SIGPIPE would print "Broken pipe" and fail.
        var result = await RunAsync("set -o pipefail; yes | head -n 2; echo \"status ${PIPESTATUS[0]}\"");

        result.ExitCode.ShouldBe(0);
        var text = string.Join("\n", sink.Lines.Select(l => l.Line));
        text.ShouldNotContain("Broken pipe");
        text.ShouldContain("status 141");
    }

    [Fact]
    public async Task ExitCode_IsPropagated()
    {
        var result = await RunAsync("echo failing; exit 3");

        result.ExitCode.ShouldBe(3);
        result.Succeeded.ShouldBeFalse();
        result.TimedOut.ShouldBeFalse();
        result.Cancelled.ShouldBeFalse();
    }

    [Fact]
    public async Task Output_ReachesTheSinkWhileTheProcessStillRuns()
    {
        using var cancel = new CancellationTokenSource();
        var run = Runner().RunAsync(Bash("echo first; sleep 60; echo second"), sink, cancel.Token);

        await sink.WaitForAsync("first");
        run.IsCompleted.ShouldBeFalse();

        await cancel.CancelAsync();
        var result = await run.WaitAsync(TimeSpan.FromSeconds(30));
        result.Cancelled.ShouldBeTrue();
        sink.Of(OutputStream.Stdout).ShouldBe(["first"]);
    }

    [Fact]
    public async Task Stdin_IsClosed_SoAPromptReadsEndOfInput()
    {
        var watch = Stopwatch.StartNew();

        var result = await RunAsync("if read -r answer; then echo \"read: $answer\"; else echo 'end of input'; fi", TimeSpan.FromSeconds(60));

        result.ExitCode.ShouldBe(0);
        sink.Of(OutputStream.Stdout).ShouldBe(["end of input"]);
        // A read of an open stdin would wait for the 60 s timeout.
        watch.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Environment_IsExactlyTheGivenOne_PlusTheRunMarker()
    {
        // Heaven's own environment (which holds its secrets) must not reach the child at all.
        Environment.SetEnvironmentVariable("HEAVEN_TEST_SECRET", "from-heaven");
        var environment = ChildEnvironment.Build(new Dictionary<string, string?>
        {
            ["PATH"] = "/usr/bin:/bin",
            ["HOME"] = "/home/deploy",
            ["GITHUB_TOKEN"] = "ghp_secret",
            ["DATABASE_URL"] = "postgres://heaven:secret@db/heaven",
            ["AWS_SECRET_ACCESS_KEY"] = "aws-secret",
        });
        environment["BRANCH"] = "main";

        var result = await RunAsync("env", environment: environment);

        result.Succeeded.ShouldBeTrue();
        var names = sink.Of(OutputStream.Stdout).Select(l => l[..l.IndexOf('=')]).Order().ToList();
        names.ShouldBe(["BRANCH", "HEAVEN_RUN_ID", "HOME", "PATH", "PWD", "SHLVL", "TERM", "_"], ignoreOrder: true);
        sink.Of(OutputStream.Stdout).ShouldContain("PATH=/usr/bin:/bin");
        sink.Of(OutputStream.Stdout).ShouldContain("TERM=dumb");
        sink.Of(OutputStream.Stdout).ShouldContain("BRANCH=main");
    }

    [Fact]
    public async Task TheChild_LeadsItsOwnProcessGroupAndSession()
    {
        var result = await RunAsync("read -r pid comm state ppid pgrp session rest < /proc/$$/stat; echo \"$$ $pgrp $session\"");

        result.Succeeded.ShouldBeTrue();
        var ids = sink.Of(OutputStream.Stdout).Single().Split(' ');
        ids.Distinct().Count().ShouldBe(1);
        ids[0].ShouldNotBe(Environment.ProcessId.ToString());
    }

    [Fact]
    public async Task ManyLines_AllArriveInOrder()
    {
        var result = await RunAsync("seq 1 100000");

        result.Succeeded.ShouldBeTrue();
        sink.Of(OutputStream.Stdout).ShouldBe(Enumerable.Range(1, 100000).Select(i => i.ToString()).ToList());
    }

    [Fact]
    public async Task ASinkThatIsBehind_HoldsTheChildBackThroughItsPipe_AndNothingIsLost()
    {
        var gated = new GatedSink();
        using var seq = new ProcessProbe();

        // 2 Mi lines, 15 MB: far more than the pipe, the readers and the pump's queue hold together.
        var run = Runner().RunAsync(Bash($"(exec -a {seq.Name} seq 2097152); echo finished >&2"), gated, CancellationToken.None);
        // Held back: seq sleeps in write(2) on its full pipe while the sink takes nothing.
        await Poll.UntilAsync(() => seq.BlockedOnAFullPipe() || run.IsCompleted, "seq to block on its full pipe");

        run.IsCompleted.ShouldBeFalse("seq wrote everything without the sink taking a line: nothing held it back");
        gated.Stdout.ShouldBe(0);
        gated.Open();
        var result = await run.WaitAsync(TimeSpan.FromSeconds(30));
        result.Succeeded.ShouldBeTrue();
        gated.Stdout.ShouldBe(2097152);
        gated.Stderr.ShouldBe(["finished"]);
    }

    [Fact]
    public async Task Program_IsFoundThroughTheDeploysPath()
    {
        using var directory = new TemporaryDirectory();
        var tool = Path.Combine(directory.Path, "deploy-tool");
        await File.WriteAllTextAsync(tool, "#!/bin/sh\necho \"tool ran with $1\"\n");
        File.SetUnixFileMode(tool, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var environment = ChildEnvironment.Build(new Dictionary<string, string?> { ["PATH"] = $"{directory.Path}:/usr/bin:/bin" });

        var result = await Runner().RunAsync(new ProcessSpec("deploy-tool", ["--flag"], directory.Path, environment, TimeSpan.FromSeconds(60)), sink, CancellationToken.None);

        result.Succeeded.ShouldBeTrue();
        sink.Of(OutputStream.Stdout).ShouldBe(["tool ran with --flag"]);
    }

    [Fact]
    public async Task Timeout_StopsTheScript_AndLeavesNothingRunning()
    {
        using var probe = new ProcessProbe();
        var watch = Stopwatch.StartNew();

        var result = await RunAsync($"echo started; {probe.Sleep(60)}", TimeSpan.FromMilliseconds(500));

        result.TimedOut.ShouldBeTrue();
        result.Cancelled.ShouldBeFalse();
        result.Succeeded.ShouldBeFalse();
        // Without the timeout the script would sleep for 60 s.
        watch.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(30));
        await probe.GoneAsync();
        sink.Of(OutputStream.Heaven)[0].ShouldBe("Timed out after 0.5 s; sending SIGINT to the deploy's processes.");
    }

    [Fact]
    public async Task Stopping_SendsInterruptFirst_SoAScriptCanCleanUp()
    {
        var result = await RunAndCancelAsync($"trap 'wait; echo got INT; exit 0' INT; echo waiting; {ScriptGate.UntilTrapped}", once: "waiting", PatientGraces);

        result.Cancelled.ShouldBeTrue();
        result.ExitCode.ShouldBe(0);
        sink.Of(OutputStream.Stdout).ShouldBe(["waiting", "got INT"]);
        sink.Of(OutputStream.Heaven).ShouldBe(["Cancelled; sending SIGINT to the deploy's processes."]);
    }

    [Fact]
    public async Task Interrupt_ReachesTheCommandsAScriptRuns_NotOnlyTheScript()
    {
        // As Ctrl-C in a terminal: the whole process group gets SIGINT, so the tool the script runs can clean up.
        var result = await RunAndCancelAsync(
            $"bash -c 'trap \"wait; echo tool got INT; exit 0\" INT; echo waiting; {ScriptGate.UntilTrapped}'; echo script continues",
            once: "waiting",
            PatientGraces);

        result.Cancelled.ShouldBeTrue();
        sink.Of(OutputStream.Stdout).ShouldBe(["waiting", "tool got INT", "script continues"]);
        sink.Of(OutputStream.Heaven).ShouldBe(["Cancelled; sending SIGINT to the deploy's processes."]);
    }

    [Fact]
    public async Task AScriptIgnoringInterruptAndTerminate_IsKilled()
    {
        using var probe = new ProcessProbe();
        var watch = Stopwatch.StartNew();

        var result = await RunAndCancelAsync($"trap '' INT TERM; echo stubborn; {probe.Sleep(60)}; while true; do sleep 0.1; done", once: "stubborn");

        result.Cancelled.ShouldBeTrue();
        result.ExitCode.ShouldBe(128 + 9);
        // Never killed, it would loop until the test's own 60 s limit.
        watch.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(30));
        sink.Of(OutputStream.Heaven).ShouldBe([
            "Cancelled; sending SIGINT to the deploy's processes.",
            "Still running 0.5 s after SIGINT; sending SIGTERM.",
            "Still running 0.5 s after SIGTERM; sending SIGKILL.",
        ]);
        await probe.GoneAsync();
    }

    [Fact]
    public async Task ABackgroundDaemonHoldingTheOutput_DoesNotHoldTheRun_AndIsStopped()
    {
        using var probe = new ProcessProbe();
        var watch = Stopwatch.StartNew();

        var result = await RunAsync($"{probe.Sleep()} & echo started; exit 0");

        // Held by the daemon, the run would last its 300 s.
        watch.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(30));
        result.ExitCode.ShouldBe(0);
        result.Succeeded.ShouldBeTrue();
        sink.Of(OutputStream.Stdout).ShouldBe(["started"]);
        sink.Of(OutputStream.Heaven).ShouldBe(["Stopped 1 process the deploy left running."]);
        await probe.GoneAsync();
    }

    [Fact]
    public async Task ADaemonThatLeftTheProcessGroup_IsFoundByItsMarker_AndStopped()
    {
        using var probe = new ProcessProbe();

        // The script waits until the daemon has left the group, so only the marker can find it.
        var result = await RunAsync($"setsid bash -c '{probe.Exec()}' > /dev/null 2>&1 & daemon=$!; {probe.AwaitExec("daemon")}; echo started");

        result.Succeeded.ShouldBeTrue();
        sink.Of(OutputStream.Heaven).ShouldBe(["Stopped 1 process the deploy left running."]);
        await probe.GoneAsync();
    }

    [Fact]
    public async Task ADaemonThatLeftTheProcessGroupHoldingTheOutput_IsStopped()
    {
        using var probe = new ProcessProbe();
        var watch = Stopwatch.StartNew();

        var result = await RunAsync($"setsid bash -c '{probe.Exec()}' & echo started");

        watch.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(30));
        result.Succeeded.ShouldBeTrue();
        await probe.GoneAsync();
    }

    [Fact]
    public async Task ADaemonThatLeftTheGroupAndScrubbedItsEnvironment_IsOutOfReach_ButTheRunStillReturns()
    {
        // The documented limitation: without group or marker nothing tells this process from anyone else's.
        using var probe = new ProcessProbe();
        var watch = Stopwatch.StartNew();

        var result = await RunAsync($"setsid env -i /bin/bash -c '{probe.Exec()}' & echo started; exit 0");

        watch.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(30));
        result.ExitCode.ShouldBe(0);
        sink.Of(OutputStream.Stdout).ShouldBe(["started"]);
        probe.Running().ShouldNotBeEmpty();
    }

    [Fact]
    public async Task Cancellation_StopsTheRun_AndReportsCancelled()
    {
        using var probe = new ProcessProbe();
        using var cancel = new CancellationTokenSource();
        var run = Runner().RunAsync(Bash($"echo started; {probe.Sleep(60)}"), sink, cancel.Token);
        await sink.WaitForAsync("started");
        await probe.StartedAsync();

        await cancel.CancelAsync();
        var result = await run.WaitAsync(TimeSpan.FromSeconds(30));

        result.Cancelled.ShouldBeTrue();
        result.TimedOut.ShouldBeFalse();
        sink.Of(OutputStream.Heaven)[0].ShouldBe("Cancelled; sending SIGINT to the deploy's processes.");
        await probe.GoneAsync();
    }

    [Fact]
    public async Task AlreadyCancelledToken_StartsNothing()
    {
        await Should.ThrowAsync<OperationCanceledException>(() =>
            Runner().RunAsync(Bash("echo never"), sink, new CancellationToken(canceled: true)));

        sink.Lines.ShouldBeEmpty();
    }

    [Fact]
    public async Task AVeryLongLine_IsSplitAtTheBound()
    {
        var result = await RunAsync("head -c 200000 /dev/zero | tr '\\0' a; echo; echo next");

        result.Succeeded.ShouldBeTrue();
        var lines = sink.Of(OutputStream.Stdout);
        lines.Select(l => l.Length).ShouldBe([65536, 65536, 65536, 200000 - (3 * 65536), 4]);
        string.Concat(lines.Take(4)).ShouldBe(new string('a', 200000));
        lines[^1].ShouldBe("next");
    }

    [Fact]
    public async Task InvalidUtf8_BecomesReplacementCharacters()
    {
        var result = await RunAsync("printf 'caf\\xc3\\xa9 \\xff\\xfe ok\\n'");

        result.Succeeded.ShouldBeTrue();
        sink.Of(OutputStream.Stdout).ShouldBe(["café \uFFFD\uFFFD ok"]);
    }

    [Fact]
    public async Task CrLfLineEndsAndALastLineWithoutNewline_AreLinesToo()
    {
        var result = await RunAsync("printf 'windows\\r\\n\\nlast'");

        result.Succeeded.ShouldBeTrue();
        sink.Of(OutputStream.Stdout).ShouldBe(["windows", "", "last"]);
    }

    [Fact]
    public async Task AMissingProgram_ThrowsProcessStartException_NamingIt()
    {
        var spec = new ProcessSpec("no-such-deploy-tool", [], Path.GetTempPath(), ChildEnvironment.FromCurrentProcess(), TimeSpan.FromSeconds(5));

        var error = await Should.ThrowAsync<ProcessStartException>(() => Runner().RunAsync(spec, sink, CancellationToken.None));

        error.Message.ShouldBe("Cannot start no-such-deploy-tool: it is not an executable in any directory of the deploy's PATH.");
    }

    [Fact]
    public async Task ANonExecutableFile_ThrowsProcessStartException()
    {
        using var directory = new TemporaryDirectory();
        var script = Path.Combine(directory.Path, "deploy.sh");
        await File.WriteAllTextAsync(script, "echo hi\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var spec = new ProcessSpec("./deploy.sh", [], directory.Path, ChildEnvironment.FromCurrentProcess(), TimeSpan.FromSeconds(5));

        var error = await Should.ThrowAsync<ProcessStartException>(() => Runner().RunAsync(spec, sink, CancellationToken.None));

        error.Message.ShouldBe("Cannot start ./deploy.sh: the file is not executable.");
    }

    [Fact]
    public async Task AMissingWorkingDirectory_ThrowsProcessStartException()
    {
        var missing = Path.Combine(Path.GetTempPath(), "heaven-missing-" + Guid.NewGuid().ToString("N"));
        var spec = new ProcessSpec("bash", ["-c", "true"], missing, ChildEnvironment.FromCurrentProcess(), TimeSpan.FromSeconds(5));

        var error = await Should.ThrowAsync<ProcessStartException>(() => Runner().RunAsync(spec, sink, CancellationToken.None));

        error.Message.ShouldBe($"Cannot start bash: the working directory '{missing}' does not exist.");
    }

    [Fact]
    public async Task AFailingSink_StopsTheDeploy_AndItsErrorIsThrown()
    {
        using var probe = new ProcessProbe();
        var failing = new FailingSink();

        var error = await Should.ThrowAsync<IOException>(() =>
            Runner().RunAsync(Bash($"echo one; {probe.Sleep(60)}"), failing, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));

        error.Message.ShouldBe("log store down");
        await probe.GoneAsync();
    }

    /// <summary>Takes no line until opened; then counts stdout and keeps stderr.</summary>
    private sealed class GatedSink : IOutputSink
    {
        private readonly TaskCompletionSource open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<string> stderr = [];
        private int stdout;

        public int Stdout => Volatile.Read(ref stdout);

        public IReadOnlyList<string> Stderr
        {
            get
            {
                lock (stderr)
                {
                    return [.. stderr];
                }
            }
        }

        public void Open() => open.TrySetResult();

        public async ValueTask WriteLineAsync(OutputStream stream, string line, CancellationToken cancellationToken)
        {
            await open.Task.WaitAsync(cancellationToken);
            if (stream == OutputStream.Stdout)
            {
                Interlocked.Increment(ref stdout);
            }
            else
            {
                lock (stderr)
                {
                    stderr.Add(line);
                }
            }
        }
    }

    /// <summary>
    /// For scripts that answer SIGINT themselves: a grace no busy machine outlasts, so the test sees the
    /// script's own answer, never the escalation (they end as soon as the trap has run).
    /// </summary>
    private static readonly ProcessRunnerOptions PatientGraces = ShortGraces with { InterruptGrace = TimeSpan.FromSeconds(30) };

    private static ProcessRunner Runner(ProcessRunnerOptions? options = null) => new(options ?? ShortGraces, TimeProvider.System, NullLogger<ProcessRunner>.Instance);

    private static ProcessSpec Bash(string script, TimeSpan? timeout = null, IReadOnlyDictionary<string, string>? environment = null) =>
        new("bash", ["-c", script], Path.GetTempPath(), environment ?? ChildEnvironment.FromCurrentProcess(), timeout ?? TimeSpan.FromSeconds(30));

    private async Task<ProcessResult> RunAsync(string script, TimeSpan? timeout = null, IReadOnlyDictionary<string, string>? environment = null) =>
        await Runner().RunAsync(Bash(script, timeout, environment), sink, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));

    /// <summary>Runs a script and cancels it once it printed <paramref name="once"/> (so its traps are set up).</summary>
    private async Task<ProcessResult> RunAndCancelAsync(string script, string once, ProcessRunnerOptions? options = null)
    {
        using var cancel = new CancellationTokenSource();
        var run = Runner(options).RunAsync(Bash(script), sink, cancel.Token);
        await sink.WaitForAsync(once);
        await cancel.CancelAsync();
        return await run.WaitAsync(TimeSpan.FromSeconds(60));
    }

    private sealed class FailingSink : IOutputSink
    {
        public ValueTask WriteLineAsync(OutputStream stream, string line, CancellationToken cancellationToken) =>
            ValueTask.FromException(new IOException("log store down"));
    }

    private sealed class TemporaryDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("heaven-exec-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
