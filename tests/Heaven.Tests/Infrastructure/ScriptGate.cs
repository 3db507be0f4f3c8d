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

    public void Open() => File.WriteAllText(Path, "");

    public void Dispose() => directory.Dispose();
}
