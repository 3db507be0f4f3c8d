using Heaven.Model;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Execution;

/// <summary>Keeps every line a run wrote, as the log page would show them.</summary>
internal sealed class RecordingSink : IOutputSink
{
    private readonly List<(OutputStream Stream, string Line)> lines = [];

    public IReadOnlyList<(OutputStream Stream, string Line)> Lines
    {
        get
        {
            lock (lines)
            {
                return [.. lines];
            }
        }
    }

    public IReadOnlyList<string> Of(OutputStream stream) => Lines.Where(l => l.Stream == stream).Select(l => l.Line).ToList();

    public ValueTask WriteLineAsync(OutputStream stream, string line, CancellationToken cancellationToken)
    {
        lock (lines)
        {
            lines.Add((stream, line));
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Waits until a line equal to <paramref name="line"/> was written.</summary>
    public Task WaitForAsync(string line) =>
        Poll.UntilAsync(() => Lines.Any(l => l.Line == line), $"the line '{line}'", state: () => "Lines so far: " + string.Join(" | ", Lines.Select(l => l.Line)));
}
