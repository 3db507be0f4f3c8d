using System.Globalization;
using Heaven.Configuration;
using Heaven.Execution;
using Heaven.Model;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Heaven.Tests.Execution;

/// <summary>
/// The process runner with isolation on, as root (CI): a process started in a deployment's folder
/// runs as the deploy user and/or in the sandbox, and timeout and cancel still leave nothing of it.
/// </summary>
public sealed class IsolatedProcessRunnerTests : IDisposable
{
    private static readonly ProcessRunnerOptions ShortGraces = ProcessRunnerTests.ShortGraces;

    private readonly TemporaryDirectory directory = new();
    private readonly RecordingSink sink = new();

    [IsolationTheory]
    [InlineData("user")]
    [InlineData("sandbox")]
    [InlineData("both")]
    public async Task AProcessInADeploymentsFolder_RunsIsolated_WithThatFoldersHomeAndTemp(string mode)
    {
        var (runner, workspace, state) = await PrepareAsync(mode);

        var result = await runner.RunAsync(
            Bash(workspace, "id -u; echo \"$HOME $TMPDIR\"; ls /proc | grep -c '^[0-9]' ; test -e /proc/" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + " && echo sees-heaven || echo no-heaven"),
            sink,
            CancellationToken.None);

        result.Succeeded.ShouldBeTrue(string.Join("\n", sink.Lines));
        var lines = sink.Of(OutputStream.Stdout);
        lines[0].ShouldBe(mode == "sandbox" ? "0" : state.User!.UserId.ToString(CultureInfo.InvariantCulture));
        lines[1].ShouldBe($"{workspace.Home} {workspace.Temp}");
        if (mode != "user")
        {
            // Its own PID namespace: bwrap's init, bash, ls, grep, test at most.
            int.Parse(lines[2], CultureInfo.InvariantCulture).ShouldBeLessThan(10);
            lines[3].ShouldBe("no-heaven");
        }
    }

    [IsolationTheory]
    [InlineData("user")]
    [InlineData("sandbox")]
    [InlineData("both")]
    public async Task Timeout_StopsTheIsolatedScript_AndLeavesNothingRunning(string mode)
    {
        var (runner, workspace, _) = await PrepareAsync(mode);
        using var probe = new ProcessProbe();

        var result = await runner.RunAsync(Bash(workspace, $"echo started; {probe.Sleep(60)}", TimeSpan.FromMilliseconds(500)), sink, CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(60));

        result.TimedOut.ShouldBeTrue();
        await probe.GoneAsync();
    }

    [IsolationTheory]
    [InlineData("user")]
    [InlineData("sandbox")]
    [InlineData("both")]
    public async Task Cancel_KillsAnIsolatedScriptIgnoringInterruptAndTerminate(string mode)
    {
        var (runner, workspace, _) = await PrepareAsync(mode);
        using var probe = new ProcessProbe();
        using var cancel = new CancellationTokenSource();
        var run = runner.RunAsync(Bash(workspace, $"trap '' INT TERM; echo stubborn; {probe.Sleep(60)}; while true; do sleep 0.1; done"), sink, cancel.Token);
        await sink.WaitForAsync("stubborn");
        await probe.StartedAsync();

        await cancel.CancelAsync();
        var result = await run.WaitAsync(TimeSpan.FromSeconds(60));

        result.Cancelled.ShouldBeTrue();
        await probe.GoneAsync();
    }

    [IsolationTheory]
    [InlineData("sandbox")]
    [InlineData("both")]
    public async Task InTheSandbox_EvenADaemonThatLeftTheGroupAndScrubbedItsEnvironment_IsStopped(string mode)
    {
        // Out of reach without the sandbox (ProcessRunnerTests); here it dies with the sandbox's PID namespace.
        var (runner, workspace, _) = await PrepareAsync(mode);
        using var probe = new ProcessProbe();

        var result = await runner.RunAsync(Bash(workspace, $"setsid env -i /bin/bash -c '{probe.Exec()}' & echo started; exit 0"), sink, CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(60));

        result.ExitCode.ShouldBe(0);
        await probe.GoneAsync();
    }

    public void Dispose() => directory.Dispose();

    private async Task<(ProcessRunner Runner, Workspace Workspace, IsolationState State)> PrepareAsync(string mode)
    {
        var options = Options.Create(new IsolationOptions
        {
            Isolation = IsolationMode.Required,
            RunAs = mode is "user" or "both" ? IsolationOptions.DefaultUser : "",
            Sandbox = mode is "sandbox" or "both",
        });
        var data = new DataDirectory(Path.Combine(directory.Path, "data"));
        var workspaces = new Workspaces(Path.Combine(directory.Path, "data-work"));
        var isolation = new DeployIsolation(options, new SandboxView(new ConfigurationBuilder().Build(), data, null, options), NullLogger<DeployIsolation>.Instance, workspaces);
        var state = await isolation.GetAsync(CancellationToken.None);
        state.Refusal.ShouldBeNull();
        var workspace = workspaces.Create(1, state.User);
        var runner = new ProcessRunner(ShortGraces, TimeProvider.System, NullLogger<ProcessRunner>.Instance, isolation, workspaces);
        return (runner, workspace, state);
    }

    private static ProcessSpec Bash(Workspace workspace, string script, TimeSpan? timeout = null) =>
        new("bash", ["-c", script], workspace.Home, ChildEnvironment.FromCurrentProcess(), timeout ?? TimeSpan.FromSeconds(30));
}
