namespace Heaven.Tests.Infrastructure;

/// <summary>
/// A file a deploy script waits for before it goes on: the deploy keeps running until the test has
/// seen what must happen while it runs (the others queued, rejected, superseded), instead of
/// sleeping for a time that is long enough only on a quiet machine.
/// </summary>
public sealed class ScriptGate : IDisposable
{
    private readonly TemporaryDirectory directory = new();

    public string Path => System.IO.Path.Combine(directory.Path, "open");

    /// <summary>
    /// Bash that waits until the gate is open, for at most <paramref name="seconds"/> (then goes on, so
    /// a test that never opens it fails on its assertions rather than hanging).
    /// </summary>
    public string Wait(int seconds = 120) =>
        $"for _ in $(seq {seconds * 20}); do [ -e '{Path}' ] && break; sleep 0.05; done";

    /// <summary>
    /// Like <see cref="Wait"/>, for a script whose SIGINT trap the test relies on (see <see cref="TrappableSleep"/>).
    /// </summary>
    public string WaitTrappably(int seconds = 120) =>
        $"for _ in $(seq {seconds * 10}); do [ -e '{Path}' ] && break; {TrappableSleep}; done";

    /// <summary>
    /// A tenth of a second's pause that a SIGINT trap always cuts short. Bash skips its SIGINT trap when
    /// the foreground command it waits for exits normally (it takes that as the command having handled
    /// the interrupt itself), and a foreground <c>sleep</c> that the signal reaches between fork and exec,
    /// while bash's own handler is still in place, does exit normally: on a busy machine about one
    /// interrupt in a few hundred went unnoticed until the SIGTERM after it. <c>wait</c> for a background
    /// sleep is cut short by the trap instead. A trap using it should begin with <c>wait</c>, so that the
    /// sleep (which ignores SIGINT, as a script's background commands do) is not left behind for Heaven
    /// to report as a leftover process.
    /// </summary>
    public const string TrappableSleep = "sleep 0.1 & wait $!";

    /// <summary>Bash that pauses until its SIGINT trap ends the script, in <see cref="TrappableSleep"/>s.</summary>
    public const string UntilTrapped = $"while true; do {TrappableSleep}; done";

    /// <summary>
    /// Like <see cref="Wait"/>, but each deploy may also be let through alone (<see cref="Open(long)"/>
    /// with its Heaven deployment id), so a test can free one slot at a time.
    /// </summary>
    public string WaitForDeployment(int seconds = 120) =>
        $"for _ in $(seq {seconds * 20}); do [ -e '{Path}' ] || [ -e '{Path}-'\"$HEAVEN_DEPLOYMENT_ID\" ] && break; sleep 0.05; done";

    /// <summary>Opens the gate for every deploy.</summary>
    public void Open() => File.WriteAllText(Path, "");

    /// <summary>Lets one deploy through (<see cref="WaitForDeployment"/>).</summary>
    public void Open(long deploymentId) => File.WriteAllText($"{Path}-{deploymentId}", "");

    public void Dispose() => directory.Dispose();
}
