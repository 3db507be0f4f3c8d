using System.Diagnostics;
using System.Text;
using Heaven.Masking;
using Heaven.Model;
using Heaven.Output;
using Heaven.Storage;
using Heaven.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Heaven.Tests.Output;

/// <summary>Output is masked, stored in order with its stream, bounded, and readable from the database.</summary>
public sealed class DeploymentLogTests : IAsyncLifetime
{
    private HeavenTestHost host = null!;

    private IHeavenDatabase Database => host.Services.GetRequiredService<IHeavenDatabase>();

    private DeploymentLogReader Reader => new(Database);

    public async Task InitializeAsync() => host = await HeavenTestHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task Lines_ComeBackInOrder_WithTheirStreamsAndNumbers()
    {
        await using (var log = Open(1))
        {
            await log.WriteLineAsync(OutputStream.Heaven, "Checking out 1a2b3c4d", default);
            await log.WriteLineAsync(OutputStream.Stdout, "Deploying...", default);
            await log.WriteLineAsync(OutputStream.Stderr, "warning: something", default);
            await log.WriteLineAsync(OutputStream.Stdout, "", default);
            await log.WriteLineAsync(OutputStream.Stdout, "Done.", default);
            await log.CompleteAsync(default);
        }

        var lines = await ReadAsync(1);

        lines.ShouldBe(
        [
            new LogLine(0, OutputStream.Heaven, "Checking out 1a2b3c4d"),
            new LogLine(1, OutputStream.Stdout, "Deploying..."),
            new LogLine(2, OutputStream.Stderr, "warning: something"),
            new LogLine(3, OutputStream.Stdout, ""),
            new LogLine(4, OutputStream.Stdout, "Done."),
        ]);
        (await Reader.ReadAllTextAsync(1, default)).ShouldBe("Checking out 1a2b3c4d\nDeploying...\nwarning: something\n\nDone.\n");
        (await ReadAsync(1, fromLine: 3)).Select(l => l.Number).ShouldBe([3L, 4L]);
        (await ReadAsync(2)).ShouldBeEmpty();
    }

    [Fact]
    public async Task OutputIsStoredWhileTheDeployRuns_NotOnlyAtTheEnd()
    {
        await using var log = Open(1);
        await log.WriteLineAsync(OutputStream.Stdout, "first", default);

        await Poll.UntilAsync(async () => (await ReadAsync(1)).Count == 1, "the line to be stored by the background flush");
    }

    [Fact]
    public async Task ManyLines_AreStoredInFewChunks_NotARowPerLine()
    {
        await using (var log = Open(1))
        {
            for (var i = 0; i < 20_000; i++)
            {
                await log.WriteLineAsync(OutputStream.Stdout, $"line {i} of a chatty deploy script", default);
            }

            await log.CompleteAsync(default);
        }

        var rows = await host.QueryAsync(db => db.LogChunks.CountAsync(c => c.DeploymentId == 1));
        rows.ShouldBeLessThan(20);
        (await ReadAsync(1)).Select(l => l.Text).ShouldBe(Enumerable.Range(0, 20_000).Select(i => $"line {i} of a chatty deploy script"));
    }

    [Fact]
    public async Task ConcurrentStdoutAndStderrWriters_LoseNothing_AndKeepEachStreamsOrder()
    {
        await using (var log = Open(1))
        {
            async Task WriteAsync(OutputStream stream, string name)
            {
                for (var i = 0; i < 5000; i++)
                {
                    await log.WriteLineAsync(stream, $"{name} {i}", default);
                    if (i % 100 == 0)
                    {
                        await Task.Yield();
                    }
                }
            }

            await Task.WhenAll(Task.Run(() => WriteAsync(OutputStream.Stdout, "out")), Task.Run(() => WriteAsync(OutputStream.Stderr, "err")));
            await log.CompleteAsync(default);
        }

        var lines = await ReadAsync(1);

        lines.Select(l => l.Number).ShouldBe(Enumerable.Range(0, 10_000).Select(i => (long)i));
        lines.Where(l => l.Stream == OutputStream.Stdout).Select(l => l.Text).ShouldBe(Enumerable.Range(0, 5000).Select(i => $"out {i}"));
        lines.Where(l => l.Stream == OutputStream.Stderr).Select(l => l.Text).ShouldBe(Enumerable.Range(0, 5000).Select(i => $"err {i}"));
    }

    [Fact]
    public async Task NulAndBrokenSurrogates_AreReplaced_SoEveryDatabaseAcceptsTheLine()
    {
        await using (var log = Open(1))
        {
            await log.WriteLineAsync(OutputStream.Stdout, "nul:\0:end", default);
            await log.WriteLineAsync(OutputStream.Stdout, "lone high:\uD83D:end", default);
            await log.WriteLineAsync(OutputStream.Stdout, "lone low:\uDE00:end", default);
            await log.WriteLineAsync(OutputStream.Stdout, "pair:\uD83D\uDE00:ü:end", default);
            await log.CompleteAsync(default);
        }

        (await ReadAsync(1)).Select(l => l.Text).ShouldBe(["nul:\uFFFD:end", "lone high:\uFFFD:end", "lone low:\uFFFD:end", "pair:\uD83D\uDE00:ü:end"]);
        var raw = await RawContentAsync(1);
        raw.ShouldNotContain('\0');
        Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(raw)).ShouldBe(raw);
    }

    [Fact]
    public async Task ALineWithNewlines_BecomesSeveralLines()
    {
        await using (var log = Open(1))
        {
            await log.WriteLineAsync(OutputStream.Heaven, "first\nsecond", default);
            await log.WriteLineAsync(OutputStream.Heaven, "third\n", default);
            await log.CompleteAsync(default);
        }

        (await ReadAsync(1)).Select(l => (l.Number, l.Text)).ShouldBe([(0L, "first"), (1L, "second"), (2L, "third")]);
    }

    [Fact]
    public async Task Secrets_AreMaskedBeforeAnythingIsStored()
    {
        const string token = "ghp_secretTokenValue0123456789";
        var masker = new SecretMasker();
        masker.Add(token);
        var observed = new StringBuilder();
        await using (var log = Open(1, masker, observer: new CollectingObserver(observed)))
        {
            await log.WriteLineAsync(OutputStream.Stdout, $"git clone https://x-access-token:{token}@github.com/o/r", default);
            await log.WriteLineAsync(OutputStream.Stderr, $"TOKEN={Convert.ToBase64String(Encoding.UTF8.GetBytes(token))}", default);
            await log.WriteLineAsync(OutputStream.Heaven, $"{{\"token\":\"{token}\"}}", default);
            await log.CompleteAsync(default);
        }

        var raw = await RawContentAsync(1);
        raw.ShouldBe("ogit clone https://x-access-token:***@github.com/o/r\neTOKEN=***\nh{\"token\":\"***\"}\n");
        observed.ToString().ShouldBe(raw);
    }

    [Fact]
    public async Task ASecretWrittenInTwoSeparateWrites_IsMaskedOnceItsLineIsComplete()
    {
        // The two halves reach the pipe in two reads; the line is handed on whole, as the process runner does.
        const string secret = "split-across-two-writes-secret";
        var masker = new SecretMasker();
        masker.Add(secret);
        var start = new ProcessStartInfo("bash", ["-c", "printf 'token=split-across-'; sleep 0.3; printf 'two-writes-secret ok\\n'; printf 'done\\n'"])
        {
            RedirectStandardOutput = true,
        };
        await using (var log = Open(1, masker))
        {
            using var process = Process.Start(start)!;
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                await log.WriteLineAsync(OutputStream.Stdout, line, default);
            }

            await process.WaitForExitAsync();
            await log.CompleteAsync(default);
        }

        (await RawContentAsync(1)).ShouldBe("otoken=*** ok\nodone\n");
    }

    [Fact]
    public async Task BeyondMaxLogBytes_HeadAndTailAreKept_AndAMarkerSaysExactlyWhatWasElided()
    {
        const long maxBytes = 64 * 1024;
        const int lineCount = 10_000;
        const int textBytes = 101; // 100 characters and the newline
        var storedDuringTheRun = new List<long>();
        await using (var log = Open(1, maxBytes: maxBytes))
        {
            for (var i = 0; i < lineCount; i++)
            {
                await log.WriteLineAsync(i % 3 == 0 ? OutputStream.Stderr : OutputStream.Stdout, $"line {i:D5} ".PadRight(100, '.'), default);
                if (i % 250 == 249)
                {
                    await log.FlushAsync(default);
                    storedDuringTheRun.Add(await StoredBytesAsync(1, includeMarker: false));
                }
            }

            await log.CompleteAsync(default);
        }

        // About 1 MB was written; at no point did the database hold more than the limit.
        storedDuringTheRun.Count.ShouldBe(40);
        storedDuringTheRun.ShouldAllBe(bytes => bytes <= maxBytes);
        var lines = await ReadAsync(1);
        var marker = lines.Single(l => l.Stream == OutputStream.Heaven);
        var head = lines.TakeWhile(l => l != marker).ToList();
        var tail = lines.SkipWhile(l => l != marker).Skip(1).ToList();

        head.Select(l => l.Number).ShouldBe(Enumerable.Range(0, head.Count).Select(i => (long)i));
        head.Sum(l => Encoding.UTF8.GetByteCount(l.Text) + 2L).ShouldBeInRange(maxBytes / 2 - 102, maxBytes / 2);
        tail[^1].Number.ShouldBe(lineCount - 1);
        tail.Select(l => l.Number).ShouldBe(Enumerable.Range((int)tail[0].Number, tail.Count).Select(i => (long)i));
        tail.Sum(l => Encoding.UTF8.GetByteCount(l.Text) + 2L).ShouldBeInRange(maxBytes / 2 - (maxBytes / 16), maxBytes / 2);
        tail.ShouldAllBe(l => l.Text == $"line {l.Number:D5} ".PadRight(100, '.'));

        var elidedLines = lineCount - head.Count - tail.Count;
        marker.Number.ShouldBe(head.Count);
        tail[0].Number.ShouldBe(head.Count + elidedLines);
        marker.Text.ShouldBe($"[Heaven: {elidedLines * textBytes:N0} bytes ({elidedLines:N0} lines) of output elided here; the log keeps the first and last 32 KB]");
        (await Reader.ReadAllTextAsync(1, default)).ShouldContain($"line {head.Count - 1:D5} ".PadRight(100, '.') + "\n" + marker.Text + "\n" + $"line {tail[0].Number:D5} ");
        (await StoredBytesAsync(1, includeMarker: false)).ShouldBeLessThanOrEqualTo(maxBytes);
    }

    [Fact]
    public async Task ReadingFromALineNumber_ResumesAcrossTheElision()
    {
        await using (var log = Open(1, maxBytes: 64 * 1024))
        {
            for (var i = 0; i < 3000; i++)
            {
                await log.WriteLineAsync(OutputStream.Stdout, $"line {i:D5} ".PadRight(100, '.'), default);
            }

            await log.CompleteAsync(default);
        }

        var all = await ReadAsync(1);
        var marker = all.Single(l => l.Stream == OutputStream.Heaven);
        (await ReadAsync(1, fromLine: marker.Number)).ShouldBe(all.SkipWhile(l => l != marker));
        (await ReadAsync(1, fromLine: marker.Number + 1)).ShouldBe(all.SkipWhile(l => l != marker).Skip(1));
        (await ReadAsync(1, fromLine: 2999)).Single().Number.ShouldBe(2999);
    }

    [Fact]
    public async Task AnEndlessLine_IsCutIntoPieces_AndStillBounded()
    {
        var huge = new string('x', 200_000) + "\uD83D\uDE00" + new string('y', 10);
        await using (var log = Open(1, maxBytes: 64 * 1024))
        {
            await log.WriteLineAsync(OutputStream.Stdout, huge, default);
            await log.CompleteAsync(default);
        }

        var lines = await ReadAsync(1);
        lines.ShouldAllBe(l => l.Text.Length <= 4096);
        lines.ShouldNotContain(l => l.Text.Contains('\uFFFD'));
        lines[^1].Text.ShouldEndWith("\uD83D\uDE00yyyyyyyyyy");
        (await StoredBytesAsync(1, includeMarker: false)).ShouldBeLessThanOrEqualTo(64 * 1024);
    }

    [Fact]
    public async Task LinesAfterCompletion_AreIgnored_AndCompletingTwiceIsHarmless()
    {
        await using var log = Open(1);
        await log.WriteLineAsync(OutputStream.Stdout, "before", default);
        await log.CompleteAsync(default);

        await log.WriteLineAsync(OutputStream.Stdout, "after", default);
        await log.CompleteAsync(default);

        (await ReadAsync(1)).Select(l => l.Text).ShouldBe(["before"]);
    }

    [Fact]
    public async Task TwoDeployments_KeepTheirOwnLogs()
    {
        await using (var a = Open(1))
        await using (var b = Open(2))
        {
            await a.WriteLineAsync(OutputStream.Stdout, "from a", default);
            await b.WriteLineAsync(OutputStream.Stdout, "from b", default);
            await a.CompleteAsync(default);
            await b.CompleteAsync(default);
        }

        (await Reader.ReadAllTextAsync(1, default)).ShouldBe("from a\n");
        (await Reader.ReadAllTextAsync(2, default)).ShouldBe("from b\n");
    }

    [Fact]
    public async Task ADatabaseHiccup_IsRetried_AndNothingIsLost()
    {
        var database = new FlakyDatabase(Database) { FailuresLeft = 2 };
        await using (var log = Open(1, database: database))
        {
            await log.WriteLineAsync(OutputStream.Stdout, "one", default);
            await log.WriteLineAsync(OutputStream.Stdout, "two", default);
            await log.CompleteAsync(default);
        }

        (await ReadAsync(1)).Select(l => l.Text).ShouldBe(["one", "two"]);
        database.Opens.ShouldBe(3);
    }

    [Fact]
    public async Task ADatabaseThatKeepsRefusing_CostsThatOutputOnly_AndTheLogSaysSo()
    {
        var time = new TestClock();
        var database = new FlakyDatabase(Database) { FailuresLeft = 4 };
        using var pump = new CancellationTokenSource();
        // The retries wait on the fake clock: move it on each time the log sleeps.
        var clock = time.KeepMovingAsync(pump.Token);
        await using (var log = Open(1, database: database, time: time))
        {
            await log.WriteLineAsync(OutputStream.Stdout, "lost one", default);
            await log.WriteLineAsync(OutputStream.Stdout, "lost two", default);
            await log.FlushAsync(default);
            await log.WriteLineAsync(OutputStream.Stdout, "kept", default);
            await log.CompleteAsync(default);
        }

        await pump.CancelAsync();
        await clock;
        (await ReadAsync(1)).ShouldBe(
        [
            new LogLine(2, OutputStream.Stdout, "kept"),
            new LogLine(3, OutputStream.Heaven, "[Heaven: 2 lines (18 bytes) of output could not be stored because the database refused them; see Heaven's server log]"),
        ]);
    }

    [Fact]
    public async Task WhenTheDatabaseFallsBehind_WritersWait_SoMemoryStaysBounded()
    {
        var release = new TaskCompletionSource();
        var database = new FlakyDatabase(Database) { Gate = release.Task };
        var line = new string('z', 1000);
        await using var log = Open(1, database: database);
        var written = 0L;
        ValueTask pending = default;
        while (written < 20_000_000)
        {
            pending = log.WriteLineAsync(OutputStream.Stdout, line, default);
            written += line.Length + 2;
            if (!pending.IsCompleted)
            {
                break;
            }
        }

        pending.IsCompleted.ShouldBeFalse("a writer waits once the database is this far behind");
        written.ShouldBeLessThanOrEqualTo((2L * DeploymentLog.MaxBufferedBytes) + (2L * DeploymentLog.MaxChunkBytes));
        release.SetResult();
        await pending;
        await log.CompleteAsync(default);
        (await ReadAsync(1)).Count.ShouldBe((int)(written / (line.Length + 2)));
    }

    private DeploymentLog Open(
        long deploymentId,
        ISecretMasker? masker = null,
        long maxBytes = OutputOptions.DefaultMaxLogBytes,
        IDeploymentLogObserver? observer = null,
        IHeavenDatabase? database = null,
        TimeProvider? time = null) =>
        new(deploymentId, masker ?? new SecretMasker(), database ?? Database, new OutputOptions { MaxLogBytes = maxBytes }, time ?? TimeProvider.System, NullLogger<DeploymentLog>.Instance, observer);

    private async Task<List<LogLine>> ReadAsync(long deploymentId, long fromLine = 0)
    {
        var lines = new List<LogLine>();
        await foreach (var line in Reader.ReadAsync(deploymentId, fromLine, default))
        {
            lines.Add(line);
        }

        return lines;
    }

    private Task<string> RawContentAsync(long deploymentId) =>
        host.QueryAsync(async db => string.Concat(await db.LogChunks.Where(c => c.DeploymentId == deploymentId).OrderBy(c => c.Sequence).Select(c => c.Content).ToListAsync()));

    private Task<long> StoredBytesAsync(long deploymentId, bool includeMarker) =>
        host.QueryAsync(async db => (await db.LogChunks.Where(c => c.DeploymentId == deploymentId).Select(c => c.Content).ToListAsync())
            .Where(content => includeMarker || !content.StartsWith('h'))
            .Sum(content => (long)Encoding.UTF8.GetByteCount(content)));

    /// <summary>The real database behind a switch: refuses the next opens, or holds them until released.</summary>
    private sealed class FlakyDatabase(IHeavenDatabase inner) : IHeavenDatabase
    {
        private int failuresLeft;
        private int opens;

        public int FailuresLeft
        {
            get => failuresLeft;
            init => failuresLeft = value;
        }

        public Task Gate { get; init; } = Task.CompletedTask;

        public int Opens => Volatile.Read(ref opens);

        public DatabaseProvider Provider => inner.Provider;

        public async Task<HeavenDbContext> OpenAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref opens);
            await Gate.WaitAsync(cancellationToken);
            if (Interlocked.Decrement(ref failuresLeft) >= 0)
            {
                throw new InvalidOperationException("database unavailable");
            }

            return await inner.OpenAsync(cancellationToken);
        }
    }

    private sealed class CollectingObserver(StringBuilder into) : IDeploymentLogObserver
    {
        public void OnChunk(string content, int lineCount) => into.Append(content);
    }
}
