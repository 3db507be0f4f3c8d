using Heaven.Model;

namespace Heaven.Execution;

/// <summary>
/// Reads one of the child's output pipes from its raw stream, not through OutputDataReceived (which
/// has no bound on a line's length, and with which Process.WaitForExit waits for every writer to close
/// the pipe). Lines are queued as they complete, so they reach the sink while the child runs, and the
/// read can be cancelled when a process nobody can stop holds the pipe.
/// </summary>
internal static class LineReader
{
    private const int BufferSize = 16 * 1024;

    public static async Task ReadAsync(Stream pipe, OutputStream stream, int maxLineLength, OutputPump pump, CancellationToken cancellationToken)
    {
        var splitter = new LineSplitter(maxLineLength);
        var buffer = new byte[BufferSize];
        // The lines completed since the last hand-over to the pump, which takes them as one batch.
        var lines = new List<string>();
        try
        {
            int read;
            while ((read = await pipe.ReadAsync(buffer, cancellationToken)) > 0)
            {
                splitter.Push(buffer.AsSpan(0, read), lines);
                if (!await WriteAsync())
                {
                    return;
                }
            }

            splitter.Finish(lines);
            await WriteAsync();
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Abandoned: a process nobody could stop still holds the pipe. Keep what was already read,
            // including a last line without newline, without waiting for the sink.
            splitter.Finish(lines);
            if (lines.Count > 0)
            {
                pump.TryWriteChildLines(stream, [.. lines]);
            }
        }

        async Task<bool> WriteAsync()
        {
            if (lines.Count == 0)
            {
                return true;
            }

            // Cleared only once queued: a wait cancelled here leaves the batch to the abandon path above.
            if (!await pump.WriteChildLinesAsync(stream, [.. lines], cancellationToken))
            {
                return false;
            }

            lines.Clear();
            return true;
        }
    }
}
