using System.Runtime.CompilerServices;
using Heaven.Model;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Output;

/// <summary>One stored line of a deployment's output. Numbers are 0-based and skip what was elided.</summary>
public readonly record struct LogLine(long Number, OutputStream Stream, string Text);

/// <summary>Reads a deployment's stored output, on any node, while it runs or after.</summary>
public sealed class DeploymentLogReader(IHeavenDatabase database)
{
    /// <summary>Chunks hold at most 256 KB, so a page of them keeps a reader's memory small.</summary>
    private const int ChunksPerQuery = 8;

    /// <summary>
    /// The lines from <paramref name="fromLine"/> on, in order. Where output was elided, one Heaven
    /// line stands in for it, numbered as the first line it replaces; the lines after it keep their
    /// own numbers, so a reader that resumes from "last number + 1" never sees a line twice.
    /// </summary>
    public async IAsyncEnumerable<LogLine> ReadAsync(long deploymentId, long fromLine = 0, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var chunk in ChunksAsync(deploymentId, fromLine, cancellationToken))
        {
            var content = chunk.Content;
            var number = chunk.FirstLine;
            var start = 0;
            while (start < content.Length)
            {
                var end = content.IndexOf('\n', start);
                if (end < 0)
                {
                    end = content.Length;
                }

                if (number >= fromLine && end > start)
                {
                    yield return new LogLine(number, LogText.StreamOf(content[start]), content[(start + 1)..end]);
                }

                number++;
                start = end + 1;
            }
        }
    }

    /// <summary>The number after the last stored line (0 when nothing is stored yet): where a reader of lines still to come starts.</summary>
    public async Task<long> StoredEndAsync(long deploymentId, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        return await db.LogChunks.AsNoTracking()
            .Where(c => c.DeploymentId == deploymentId)
            .MaxAsync(c => (long?)(c.FirstLine + c.LineCount), cancellationToken) ?? 0;
    }

    /// <summary>The whole log as plain text (no stream marks), for the log page and downloads, without holding it in memory.</summary>
    public async Task WriteTextAsync(long deploymentId, TextWriter writer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(writer);
        await foreach (var chunk in ChunksAsync(deploymentId, 0, cancellationToken))
        {
            var content = chunk.Content.AsMemory();
            var start = 0;
            while (start < content.Length)
            {
                var end = content.Span[start..].IndexOf('\n');
                var next = end < 0 ? content.Length : start + end + 1;
                await writer.WriteAsync(content[(start + 1)..next], cancellationToken);
                if (end < 0)
                {
                    await writer.WriteAsync('\n');
                }

                start = next;
            }
        }
    }

    /// <summary>The whole log as plain text; <see cref="WriteTextAsync"/> streams it instead.</summary>
    public async Task<string> ReadAllTextAsync(long deploymentId, CancellationToken cancellationToken)
    {
        await using var writer = new StringWriter();
        await WriteTextAsync(deploymentId, writer, cancellationToken);
        return writer.ToString();
    }

    private async IAsyncEnumerable<DeploymentLogChunk> ChunksAsync(long deploymentId, long fromLine, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var afterSequence = -1;
        while (true)
        {
            List<DeploymentLogChunk> page;
            await using (var db = await database.OpenAsync(cancellationToken))
            {
                var after = afterSequence;
                page = await db.LogChunks.AsNoTracking()
                    .Where(c => c.DeploymentId == deploymentId && c.Sequence > after && c.FirstLine + c.LineCount > fromLine)
                    .OrderBy(c => c.Sequence)
                    .Take(ChunksPerQuery)
                    .ToListAsync(cancellationToken);
            }

            foreach (var chunk in page)
            {
                yield return chunk;
            }

            if (page.Count < ChunksPerQuery)
            {
                yield break;
            }

            afterSequence = page[^1].Sequence;
        }
    }
}
