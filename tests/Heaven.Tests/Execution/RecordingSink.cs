using Heaven.Model;
using Heaven.Output;

namespace Heaven.Tests.Execution;

/// <summary>Keeps every line a run wrote, as the log page would show them.</summary>
internal sealed class RecordingSink : IOutputSink
{
    private readonly List<(OutputStream Stream, string Line)> lines = [];
    private readonly SemaphoreSlim written = new(0);

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

        written.Release();
        return ValueTask.CompletedTask;
    }

    /// <summary>Waits until a line equal to <paramref name="line"/> was written; false after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForAsync(string line, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (!Lines.Any(l => l.Line == line))
        {
            try
            {
                await written.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        return true;
    }
}
