using System.Text;
using System.Threading.Channels;
using Heaven.Model;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Output;

/// <summary>
/// A deployment's output on its way to the database: every line is masked, then gathered into chunks
/// that a background task stores a transaction at a time (never a round trip per line), so any node can
/// serve the log while the deploy runs.
/// </summary>
/// <remarks>
/// <para>Size is bounded by <see cref="OutputOptions.MaxLogBytes"/> (UTF-8 bytes of stored content),
/// by the same <see cref="HeadTailBudget"/> as the gist: the first half is kept as the head; after it,
/// tail chunks are stored and the oldest deleted whenever the tail grows past the other half. A line
/// between head and tail (a sequence number is reserved for it when the head fills) says how much was
/// left out, and is kept current as the tail moves.</para>
/// <para>Memory is bounded too: when the database falls behind, writers wait (the deploy's pipes fill
/// and it pauses) instead of output piling up. A batch the database refuses after retries is given up
/// and counted, and the log ends with a line saying how much was lost; the deploy is not held forever.</para>
/// <para>Stdout and stderr reader tasks may write at the same time; each stream's order is kept.</para>
/// <para>One instance writes a deployment's whole log: sequence and line numbers start at 0, so a
/// second instance for the same deployment would collide with the first one's rows.</para>
/// </remarks>
public sealed partial class DeploymentLog : IOutputSink, IAsyncDisposable
{
    /// <summary>Output reaches the database (and live readers) within about this long.</summary>
    internal static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Large rows keep the per-row cost of the database low (a 200 MB flood is about 800 inserts, not
    /// millions); a chunk still appears within <see cref="FlushInterval"/> when output is slow.
    /// </summary>
    internal const int MaxChunkBytes = 256 * 1024;

    /// <summary>
    /// Sealed chunks waiting for the database beyond this make writers wait. Large enough that a
    /// flood is written a few megabytes per transaction (one fsync each), small enough to keep memory flat.
    /// </summary>
    internal const int MaxBufferedBytes = 4 * 1024 * 1024;

    /// <summary>
    /// With several nodes, a viewer may be on another node, where only stored lines are seen: the first
    /// line after a quiet spell is stored this soon, and lines keep following at least every
    /// <see cref="SoonFlushSpacing"/> (bursts in between go in one transaction), not only every
    /// <see cref="FlushInterval"/>.
    /// </summary>
    internal static readonly TimeSpan SoonFlushDelay = TimeSpan.FromMilliseconds(25);

    /// <inheritdoc cref="SoonFlushDelay"/>
    internal static readonly TimeSpan SoonFlushSpacing = TimeSpan.FromMilliseconds(100);

    private static readonly TimeSpan[] RetryDelays = [TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4)];

    private readonly ISecretMasker masker;
    private readonly IHeavenDatabase database;
    private readonly TimeProvider timeProvider;
    private readonly ILogger logger;
    private readonly IDeploymentLogObserver? observer;
    private readonly LiveLogs? liveLogs;
    private readonly LiveLogFeed? live;
    private readonly HeadTailBudget budget;
    private readonly int chunkTarget;
    private readonly int maxPieceChars;

    // Writer state, guarded by gate.
    private readonly Lock gate = new();
    // A plain array, reused: StringBuilder.Clear on a large builder allocates a new large buffer each time.
    private char[] current = new char[1024];
    private int currentLength;
    private readonly Queue<SealedChunk> sealedChunks = new();
    private long sealedBytes;
    private int currentLines;
    private long currentBytes;
    private long currentFirstLine;
    private bool currentIsHead;
    private long nextLine;
    private int nextSequence;
    private int markerSequence = -1;
    private long markerLine;
    private bool completing;
    private TaskCompletionSource? spaceAvailable;

    // Store state, owned by whoever holds storeLock.
    private readonly SemaphoreSlim storeLock = new(1, 1);
    private List<TailEntry> storedTail = [];
    private long storedTailBytes;
    private long elidedBytes;
    private long elidedLines;
    private bool markerStored;
    private long lostLines;
    private long lostBytes;

    private readonly Channel<bool> wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly CancellationTokenSource stopping = new();
    private readonly ITimer timer;
    private readonly ClusterSignals? cluster;
    private readonly string subject;
    // Only while several nodes share the database: the flush soon after a quiet spell (see SoonFlushDelay).
    private readonly ITimer? soonTimer;
    private int soonPending;
    private long lastSoonFlush;
    private readonly Task flusher;
    private int timerDue;
    private Task? completion;

    public DeploymentLog(
        long deploymentId,
        ISecretMasker masker,
        IHeavenDatabase database,
        OutputOptions options,
        TimeProvider timeProvider,
        ILogger<DeploymentLog> logger,
        IDeploymentLogObserver? observer = null,
        LiveLogs? liveLogs = null,
        ClusterSignals? cluster = null)
    {
        ArgumentNullException.ThrowIfNull(masker);
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        DeploymentId = deploymentId;
        this.masker = masker;
        this.database = database;
        this.timeProvider = timeProvider;
        this.logger = logger;
        this.observer = observer;
        this.liveLogs = liveLogs;
        live = liveLogs?.Open(deploymentId);
        budget = new HeadTailBudget(options.MaxLogBytes);

        // Small enough that deleting the oldest tail chunk keeps most of the tail. A line longer than
        // a piece is cut (the runner's 64 KiB lines are not, with the default size); a piece needs at
        // most 3 UTF-8 bytes per char, so it fits in a chunk and a chunk never outgrows the tail.
        chunkTarget = (int)Math.Clamp(options.MaxLogBytes / 16, 4096, MaxChunkBytes);
        maxPieceChars = (int)Math.Clamp(options.MaxLogBytes / 64, 1024, 65536);

        timer = timeProvider.CreateTimer(static state => ((DeploymentLog)state!).OnTimer(), this, FlushInterval, FlushInterval);
        subject = ClusterTopics.Subject(deploymentId);
        if (cluster is { SpansNodes: true })
        {
            this.cluster = cluster;
            soonTimer = timeProvider.CreateTimer(static state => ((DeploymentLog)state!).OnSoonTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            lastSoonFlush = timeProvider.GetTimestamp();
        }

        flusher = Task.Run(RunAsync);
    }

    public long DeploymentId { get; }

    /// <summary>Masks the line and queues it for storage. Completes at once unless the database is behind.</summary>
    /// <remarks>A line that contains '\n' becomes several lines. Lines written after <see cref="CompleteAsync"/> are ignored.</remarks>
    public ValueTask WriteLineAsync(OutputStream stream, string line, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(line);
        var text = LogText.Clean(masker.Mask(line));
        var prefix = LogText.PrefixOf(stream);
        Task? wait = null;
        bool sealedOne;
        lock (gate)
        {
            if (completing)
            {
                // The runner may still be draining a grandchild's pipe when the deploy ends.
                return default;
            }

            var sealedBefore = nextSequence;
            Append(prefix, text);
            sealedOne = nextSequence != sealedBefore;
            if (sealedBytes >= MaxBufferedBytes)
            {
                wait = (spaceAvailable ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }

        if (sealedOne)
        {
            wake.Writer.TryWrite(true);
        }
        else if (soonTimer is not null && Interlocked.Exchange(ref soonPending, 1) == 0)
        {
            var spacing = SoonFlushSpacing - timeProvider.GetElapsedTime(Interlocked.Read(ref lastSoonFlush));
            try
            {
                soonTimer.Change(spacing > SoonFlushDelay ? spacing : SoonFlushDelay, Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // Completed meanwhile: everything is being stored.
            }
        }

        return wait is null ? default : new ValueTask(wait.WaitAsync(cancellationToken));
    }

    /// <summary>Stores everything written so far.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        lock (gate)
        {
            Seal();
        }

        await DrainAsync(cancellationToken);
    }

    /// <summary>
    /// Stores everything, brings the elision line up to date, and says in the log if output was lost.
    /// Later writes are ignored. Calling it again waits for the first call.
    /// </summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource? first = null;
        Task completed;
        lock (gate)
        {
            if (completion is null)
            {
                completing = true;
                Seal();
                first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                completion = first.Task;
            }

            completed = completion;
        }

        if (first is not null)
        {
            try
            {
                await CompleteCoreAsync(cancellationToken);
                first.SetResult();
            }
            catch (Exception e)
            {
                first.SetException(e);
            }
            finally
            {
                // Viewers now read the rest from the database and end there.
                CloseLive();
            }
        }

        await completed;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30), timeProvider);
            await CompleteAsync(timeout.Token);
        }
        catch (Exception e)
        {
            Log.CompletionFailed(logger, DeploymentId, e.GetType().Name);
        }

        CloseLive();
        await stopping.CancelAsync();
        wake.Writer.TryComplete();
        await flusher;
        await timer.DisposeAsync();
        if (soonTimer is not null)
        {
            await soonTimer.DisposeAsync();
        }

        stopping.Dispose();
        storeLock.Dispose();
    }

    private async Task CompleteCoreAsync(CancellationToken cancellationToken)
    {
        await timer.DisposeAsync();
        if (soonTimer is not null)
        {
            await soonTimer.DisposeAsync();
        }

        await DrainAsync(cancellationToken);
        if (Interlocked.Read(ref lostLines) > 0)
        {
            lock (gate)
            {
                AppendPiece('h', $"[Heaven: {LogText.Count(lostLines)} lines ({LogText.Count(lostBytes)} bytes) of output could not be stored because the database refused them; see Heaven's server log]");
                Seal();
            }

            await DrainAsync(cancellationToken);
        }

        wake.Writer.TryComplete();
    }

    private void CloseLive()
    {
        if (live is not null)
        {
            liveLogs!.Close(live);
        }
    }

    private void OnSoonTimer()
    {
        Interlocked.Exchange(ref lastSoonFlush, timeProvider.GetTimestamp());
        Volatile.Write(ref soonPending, 0);
        OnTimer();
    }

    private void OnTimer()
    {
        Volatile.Write(ref timerDue, 1);
        wake.Writer.TryWrite(true);
    }

    private async Task RunAsync()
    {
        try
        {
            while (await wake.Reader.WaitToReadAsync(stopping.Token))
            {
                wake.Reader.TryRead(out _);
                if (Interlocked.Exchange(ref timerDue, 0) == 1)
                {
                    lock (gate)
                    {
                        Seal();
                    }
                }

                await DrainAsync(stopping.Token);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Log.FlusherFailed(logger, DeploymentId, e);
        }
    }

    private void Append(char prefix, string text)
    {
        var rest = text.AsSpan();
        if (rest.EndsWith("\n"))
        {
            rest = rest[..^1];
        }

        while (true)
        {
            var newline = rest.IndexOf('\n');
            var segment = newline < 0 ? rest : rest[..newline];
            while (segment.Length > maxPieceChars)
            {
                // The process runner cuts endless lines too; here it keeps a chunk within its size.
                var cut = char.IsHighSurrogate(segment[maxPieceChars - 1]) ? maxPieceChars - 1 : maxPieceChars;
                AppendPiece(prefix, segment[..cut], text);
                segment = segment[cut..];
            }

            AppendPiece(prefix, segment, text);
            if (newline < 0)
            {
                return;
            }

            rest = rest[(newline + 1)..];
        }
    }

    private void AppendPiece(char prefix, ReadOnlySpan<char> piece, string? whole = null)
    {
        if (live is not null)
        {
            // Published as it is numbered, before it is stored: viewers on this node see it at once.
            // A written line is nearly always one piece, whose string the feed keeps as it is.
            var text = whole is not null && piece.Length == whole.Length ? whole : piece.ToString();
            live.Publish(nextLine, LogText.StreamOf(prefix), text);
        }

        // The stream character and the newline are a byte each.
        var bytes = Encoding.UTF8.GetByteCount(piece) + 2L;
        var wasInHead = budget.InHead;
        if (!budget.TryTakeIntoHead(bytes) && wasInHead)
        {
            // The head is full: the elision line gets its place between head and tail now.
            Seal();
            markerSequence = nextSequence++;
            markerLine = nextLine;
        }

        if (currentLines > 0 && currentBytes + bytes > chunkTarget)
        {
            Seal();
        }

        if (currentLines == 0)
        {
            currentFirstLine = nextLine;
            currentIsHead = budget.InHead;
        }

        var needed = currentLength + piece.Length + 2;
        if (needed > current.Length)
        {
            Array.Resize(ref current, Math.Max(needed, current.Length * 2));
        }

        current[currentLength] = prefix;
        piece.CopyTo(current.AsSpan(currentLength + 1));
        current[currentLength + 1 + piece.Length] = '\n';
        currentLength = needed;
        currentLines++;
        currentBytes += bytes;
        nextLine++;
    }

    private void Seal()
    {
        if (currentLines == 0)
        {
            return;
        }

        sealedChunks.Enqueue(new SealedChunk(nextSequence++, currentFirstLine, currentLines, new string(current, 0, currentLength), currentBytes, currentIsHead));
        sealedBytes += currentBytes;
        currentLength = 0;
        currentLines = 0;
        currentBytes = 0;
    }

    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        await storeLock.WaitAsync(cancellationToken);
        try
        {
            while (true)
            {
                List<SealedChunk> batch;
                int marker;
                long firstElidedLine;
                TaskCompletionSource? released;
                lock (gate)
                {
                    if (sealedChunks.Count == 0)
                    {
                        return;
                    }

                    batch = [.. sealedChunks];
                    sealedChunks.Clear();
                    sealedBytes = 0;
                    marker = markerSequence;
                    firstElidedLine = markerLine;
                    released = spaceAvailable;
                    spaceAvailable = null;
                }

                released?.TrySetResult();
                Notify(batch);
                await StoreAsync(batch, marker, firstElidedLine, cancellationToken);
            }
        }
        finally
        {
            storeLock.Release();
        }
    }

    private void Notify(List<SealedChunk> batch)
    {
        if (observer is null)
        {
            return;
        }

        foreach (var chunk in batch)
        {
            try
            {
                observer.OnChunk(chunk.Content, chunk.LineCount);
            }
            catch (Exception e)
            {
                // An observer (the gist mirror) never costs the stored log anything.
                Log.ObserverFailed(logger, DeploymentId, e);
            }
        }
    }

    private async Task StoreAsync(List<SealedChunk> batch, int marker, long firstElidedLine, CancellationToken cancellationToken)
    {
        var plan = Plan(batch, marker, firstElidedLine);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await ExecuteAsync(plan, cancellationToken);
                // Viewers following from other nodes read the new lines now.
                cluster?.Announce(ClusterTopics.LogWritten, subject);
                storedTail = plan.Tail;
                storedTailBytes = plan.TailBytes;
                elidedBytes = plan.ElidedBytes;
                elidedLines = plan.ElidedLines;
                markerStored |= plan.Marker is not null;
                return;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && attempt < RetryDelays.Length)
            {
                Log.StoreRetrying(logger, DeploymentId, attempt + 1, e.GetType().Name);
                await Task.Delay(RetryDelays[attempt], timeProvider, cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                var lines = batch.Sum(c => (long)c.LineCount);
                var bytes = batch.Sum(c => c.Bytes - c.LineCount);
                Interlocked.Add(ref lostLines, lines);
                Interlocked.Add(ref lostBytes, bytes);
                Log.OutputLost(logger, DeploymentId, lines, bytes, e);
                return;
            }
        }
    }

    /// <summary>What one transaction does; the in-memory state changes only once it has committed.</summary>
    private StorePlan Plan(List<SealedChunk> batch, int marker, long firstElidedLine)
    {
        var now = timeProvider.GetUtcNow().UtcDateTime;
        var tail = new List<TailEntry>(storedTail);
        var tailBytes = storedTailBytes;
        var fresh = new Dictionary<int, SealedChunk>();
        var rows = new List<DeploymentLogChunk>(batch.Count + 1);
        foreach (var chunk in batch)
        {
            if (chunk.IsHead)
            {
                rows.Add(Row(chunk.Sequence, chunk.FirstLine, chunk.LineCount, chunk.Content, now));
            }
            else
            {
                tail.Add(new TailEntry(chunk.Sequence, chunk.Bytes, chunk.LineCount));
                tailBytes += chunk.Bytes;
                fresh.Add(chunk.Sequence, chunk);
            }
        }

        // Oldest tail chunks go first; the stored ones among them are always the oldest stored, so
        // they form one range of sequence numbers (and the head's numbers lie below the marker's).
        int? deleteFrom = null;
        var deleteTo = 0;
        var newlyElidedBytes = 0L;
        var newlyElidedLines = 0L;
        var dropped = 0;
        while (budget.TailExcess(tailBytes) > 0 && dropped < tail.Count - 1)
        {
            var entry = tail[dropped++];
            tailBytes -= entry.Bytes;
            newlyElidedBytes += entry.Bytes - entry.Lines;
            newlyElidedLines += entry.Lines;
            if (!fresh.Remove(entry.Sequence))
            {
                deleteFrom ??= entry.Sequence;
                deleteTo = entry.Sequence;
            }
        }

        tail.RemoveRange(0, dropped);
        foreach (var chunk in batch.Where(c => fresh.ContainsKey(c.Sequence)))
        {
            rows.Add(Row(chunk.Sequence, chunk.FirstLine, chunk.LineCount, chunk.Content, now));
        }

        var totalElidedBytes = elidedBytes + newlyElidedBytes;
        var totalElidedLines = elidedLines + newlyElidedLines;
        DeploymentLogChunk? markerRow = null;
        string? markerUpdate = null;
        if (newlyElidedLines > 0)
        {
            var content = "h" + MarkerText(totalElidedBytes, totalElidedLines) + "\n";
            if (markerStored)
            {
                markerUpdate = content;
            }
            else
            {
                markerRow = Row(marker, firstElidedLine, 1, content, now);
            }
        }

        return new StorePlan(rows, markerRow, markerUpdate, marker, deleteFrom, deleteTo, tail, tailBytes, totalElidedBytes, totalElidedLines);
    }

    private async Task ExecuteAsync(StorePlan plan, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        db.ChangeTracker.AutoDetectChangesEnabled = false;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        foreach (var row in plan.Marker is null ? plan.Rows : plan.Rows.Append(plan.Marker))
        {
            // A retry after a commit that failed must not carry the ids of the attempt before.
            row.Id = 0;
            db.LogChunks.Add(row);
        }

        await db.SaveChangesAsync(cancellationToken);
        var id = DeploymentId;
        if (plan.DeleteFrom is { } from)
        {
            var to = plan.DeleteTo;
            await db.LogChunks.Where(c => c.DeploymentId == id && c.Sequence >= from && c.Sequence <= to).ExecuteDeleteAsync(cancellationToken);
        }

        if (plan.MarkerUpdate is { } content)
        {
            var sequence = plan.MarkerSequence;
            await db.LogChunks.Where(c => c.DeploymentId == id && c.Sequence == sequence)
                .ExecuteUpdateAsync(set => set.SetProperty(c => c.Content, content), cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    private DeploymentLogChunk Row(int sequence, long firstLine, int lineCount, string content, DateTime now) => new()
    {
        DeploymentId = DeploymentId,
        Sequence = sequence,
        FirstLine = firstLine,
        LineCount = lineCount,
        Content = content,
        CreatedAt = now,
    };

    private string MarkerText(long bytes, long lines) => budget.Marker(bytes, lines, "the log");

    private sealed record SealedChunk(int Sequence, long FirstLine, int LineCount, string Content, long Bytes, bool IsHead);

    private readonly record struct TailEntry(int Sequence, long Bytes, int Lines);

    private sealed record StorePlan(
        List<DeploymentLogChunk> Rows,
        DeploymentLogChunk? Marker,
        string? MarkerUpdate,
        int MarkerSequence,
        int? DeleteFrom,
        int DeleteTo,
        List<TailEntry> Tail,
        long TailBytes,
        long ElidedBytes,
        long ElidedLines);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Storing output of deployment {DeploymentId} failed ({Error}); attempt {Attempt} is retried")]
        public static partial void StoreRetrying(ILogger logger, long deploymentId, int attempt, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Output of deployment {DeploymentId} could not be stored and is lost: {Lines} lines, {Bytes} bytes")]
        public static partial void OutputLost(ILogger logger, long deploymentId, long lines, long bytes, Exception exception);

        [LoggerMessage(Level = LogLevel.Warning, Message = "An observer of deployment {DeploymentId}'s output failed; the log is not affected")]
        public static partial void ObserverFailed(ILogger logger, long deploymentId, Exception exception);

        [LoggerMessage(Level = LogLevel.Error, Message = "The output writer of deployment {DeploymentId} stopped")]
        public static partial void FlusherFailed(ILogger logger, long deploymentId, Exception exception);

        [LoggerMessage(Level = LogLevel.Warning, Message = "The log of deployment {DeploymentId} could not be completed ({Error})")]
        public static partial void CompletionFailed(ILogger logger, long deploymentId, string error);
    }
}
