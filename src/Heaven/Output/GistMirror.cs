using System.Text;
using System.Threading.Channels;
using Heaven.GitHub;

namespace Heaven.Output;

/// <summary>
/// Mirrors a deployment's masked output to a secret gist, "Heaven deployment &lt;id&gt; for &lt;owner/repo&gt;",
/// as the original Heaven did: created when the deploy starts, updated while output arrives (at most
/// every <see cref="OutputOptions.GistUpdateInterval"/>), updated once more at the end.
/// </summary>
/// <remarks>
/// <para>Everything happens on a background task; a gist problem is logged and never fails or holds up
/// a deploy (<see cref="CompleteAsync"/> waits a bounded time). A refusal (no gist scope, gist deleted)
/// stops the mirror for this deployment; transient errors are retried at the next update.</para>
/// <para>GitHub truncates gist files over 1 MB in its API, so the text is split into files under that;
/// the mirror keeps at most <see cref="OutputOptions.GistMaxBytes"/> (its first and last half, with a
/// line saying what was left out: the same <see cref="HeadTailBudget"/> as the stored log), so its
/// memory is bounded whatever the deploy prints.</para>
/// </remarks>
public sealed partial class GistMirror : IDeploymentLogObserver, IAsyncDisposable
{
    /// <summary>Under GitHub's 1 MB, with room to spare for however GitHub counts a megabyte.</summary>
    internal const int MaxFileBytes = 990_000;

    /// <summary>The most files a gist gets; the budget below keeps the mirror within it.</summary>
    internal const int MaxFiles = 10;

    /// <summary>
    /// A file is cut at a line end only when one is in its last tenth, so every file but the last is at
    /// least 90% full: ten of them hold this much, with room for the elision line.
    /// </summary>
    internal const long MaxGistBytes = 8_000_000;

    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromMinutes(5);

    private readonly IGitHub gitHub;
    private readonly TimeProvider timeProvider;
    private readonly ILogger logger;
    private readonly string? logUrl;
    private readonly TimeSpan interval;
    private readonly HeadTailBudget budget;

    // Output kept for the gist, guarded by gate.
    private readonly Lock gate = new();
    private readonly StringBuilder head = new();
    private readonly Queue<TailChunk> tail = new();
    private long tailBytes;
    private long droppedBytes;
    private long droppedLines;
    private bool anyOutput;
    private bool dirty;
    private bool disabled;

    // Worker state.
    private readonly Channel<bool> wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly TaskCompletionSource completing = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource settled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource stopping = new();
    private readonly Dictionary<string, (int Length, int Hash)> sent = new(StringComparer.Ordinal);
    private Task? worker;
    private GistReference? gist;

    public GistMirror(
        IGitHub gitHub,
        long deploymentId,
        string repository,
        OutputOptions options,
        TimeProvider timeProvider,
        ILogger<GistMirror> logger,
        string? logUrl = null)
    {
        ArgumentNullException.ThrowIfNull(gitHub);
        ArgumentException.ThrowIfNullOrWhiteSpace(repository);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        this.gitHub = gitHub;
        DeploymentId = deploymentId;
        Repository = repository;
        this.timeProvider = timeProvider;
        this.logger = logger;
        this.logUrl = logUrl;
        interval = options.GistUpdateInterval;
        budget = new HeadTailBudget(Math.Clamp(options.GistMaxBytes, 2, MaxGistBytes));
    }

    public long DeploymentId { get; }

    public string Repository { get; }

    public string Description => $"Heaven deployment {DeploymentId} for {Repository}";

    /// <summary>The gist, once GitHub has created it.</summary>
    public GistReference? Gist => Volatile.Read(ref gist);

    /// <summary>The gist's page, once GitHub has created it.</summary>
    public string? HtmlUrl => Gist?.HtmlUrl;

    /// <summary>
    /// Completes as soon as the gist exists, or once none can come from this mirror (GitHub refused it,
    /// or the mirror stopped). Never faults; a transient failure leaves it waiting for the retry.
    /// </summary>
    public Task Settled => settled.Task;

    /// <summary>How long <see cref="CompleteAsync"/> waits for the final update at most.</summary>
    internal TimeSpan CompletionTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long one call to GitHub may take before it is given up.</summary>
    internal TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Starts creating the gist in the background and returns at once.</summary>
    public void Start()
    {
        lock (gate)
        {
            worker ??= Task.Run(() => RunAsync(stopping.Token));
        }
    }

    public void OnChunk(string content, int lineCount)
    {
        ArgumentNullException.ThrowIfNull(content);
        lock (gate)
        {
            if (disabled || content.Length == 0)
            {
                return;
            }

            anyOutput = true;
            dirty = true;
            var position = 0;
            if (budget.InHead)
            {
                while (position < content.Length)
                {
                    var end = EndOfLine(content, position);
                    var text = content.AsSpan(position + 1, end - position - 1);
                    if (!budget.TryTakeIntoHead(Encoding.UTF8.GetByteCount(text) + 1L))
                    {
                        break;
                    }

                    head.Append(text).Append('\n');
                    position = end + 1;
                }
            }

            if (position < content.Length)
            {
                var rest = position == 0 ? content : content[position..];
                var lines = CountLines(rest);
                var plainBytes = Encoding.UTF8.GetByteCount(rest) - lines;
                tail.Enqueue(new TailChunk(rest, lines, plainBytes));
                tailBytes += plainBytes;

                // Whole chunks are let go while what remains still covers the tail; Render trims to lines.
                while (tail.Count > 1 && tail.Peek().PlainBytes <= budget.TailExcess(tailBytes))
                {
                    var oldest = tail.Dequeue();
                    tailBytes -= oldest.PlainBytes;
                    droppedBytes += oldest.PlainBytes;
                    droppedLines += oldest.Lines;
                }
            }
        }

        wake.Writer.TryWrite(true);
    }

    /// <summary>
    /// Sends the final update (creating the gist first if that had not worked yet) and waits for it
    /// at most <see cref="CompletionTimeout"/>. Never throws.
    /// </summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        Start();
        completing.TrySetResult();
        wake.Writer.TryWrite(true);
        try
        {
            await worker!.WaitAsync(CompletionTimeout, timeProvider, cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            Log.FinalUpdateAbandoned(logger, DeploymentId, CompletionTimeout.TotalSeconds);
            await stopping.CancelAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        Task? running;
        lock (gate)
        {
            running = worker;
            worker = Task.CompletedTask;
        }

        // The worker catches everything it meets; this only waits for it to notice the cancellation.
        await (running ?? Task.CompletedTask);
        stopping.Dispose();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            var notBefore = timeProvider.GetUtcNow();
            while (true)
            {
                var final = completing.Task.IsCompleted;
                if (Gist is not null && !final)
                {
                    // Created: wait for new output or the end.
                    await wake.Reader.ReadAsync(cancellationToken);
                }

                final = completing.Task.IsCompleted;
                var wait = notBefore - timeProvider.GetUtcNow();
                if (!final && wait > TimeSpan.Zero)
                {
                    // Throttled; the end of the deploy cuts the wait short. Output meanwhile is coalesced.
                    await Task.WhenAny(Task.Delay(wait, timeProvider, cancellationToken), completing.Task);
                    cancellationToken.ThrowIfCancellationRequested();
                    final = completing.Task.IsCompleted;
                }

                var retryAfter = await SendAsync(cancellationToken);
                if (final || Volatile.Read(ref disabled))
                {
                    return;
                }

                var pause = retryAfter is { } asked && asked > interval ? (asked < MaxRetryAfter ? asked : MaxRetryAfter) : interval;
                notBefore = timeProvider.GetUtcNow() + pause;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Log.MirrorFailed(logger, DeploymentId, e);
        }
        finally
        {
            settled.TrySetResult();
        }
    }

    /// <summary>Creates or updates the gist; returns how long GitHub asked to wait, when it did.</summary>
    private async Task<TimeSpan?> SendAsync(CancellationToken cancellationToken)
    {
        Snapshot snapshot;
        lock (gate)
        {
            if (Gist is not null && !dirty)
            {
                return null;
            }

            // Copied under the lock, rendered outside it: the deploy's output keeps flowing meanwhile.
            snapshot = new Snapshot(anyOutput, completing.Task.IsCompleted, head.ToString(), [.. tail], tailBytes, droppedBytes, droppedLines);
            dirty = false;
        }

        var files = Render(snapshot);

        using var timeout = new CancellationTokenSource(CallTimeout, timeProvider);
        using var call = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            if (Gist is null)
            {
                var created = await gitHub.CreateGistAsync(Description, files.ToDictionary(f => f.Name, f => f.Content, StringComparer.Ordinal), call.Token);
                Volatile.Write(ref gist, created);
                settled.TrySetResult();
                Remember(files);
                Log.Created(logger, DeploymentId, created.HtmlUrl);
                return null;
            }

            var changes = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var (name, content) in files)
            {
                if (!sent.TryGetValue(name, out var known) || known != Fingerprint(content))
                {
                    changes[name] = content;
                }
            }

            foreach (var gone in sent.Keys.Except(files.Select(f => f.Name)))
            {
                changes[gone] = null;
            }

            if (changes.Count > 0)
            {
                await gitHub.UpdateGistAsync(Gist.Id, changes, call.Token);
                Remember(files);
            }

            return null;
        }
        catch (GitHubRejectedException e)
        {
            Log.Rejected(logger, DeploymentId, e.StatusCode, e.Message);
            Disable();
            return null;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Transient (5xx, rate limit, network, a call that took too long): try again at the next update.
            Log.Failed(logger, DeploymentId, Gist is null ? "create" : "update", e.GetType().Name, e.Message);
            lock (gate)
            {
                dirty = true;
            }

            wake.Writer.TryWrite(true);

            return (e as GitHubTransientException)?.RetryAfter;
        }
    }

    private void Remember(List<(string Name, string Content)> files)
    {
        sent.Clear();
        foreach (var (name, content) in files)
        {
            sent[name] = Fingerprint(content);
        }
    }

    private void Disable()
    {
        lock (gate)
        {
            // Nothing more will be sent: let the kept output go.
            disabled = true;
            head.Clear();
            tail.Clear();
        }

        settled.TrySetResult();
    }

    /// <summary>The gist's files for what was kept; bounded by the budget.</summary>
    private List<(string Name, string Content)> Render(Snapshot snapshot)
    {
        if (!snapshot.AnyOutput)
        {
            // GitHub refuses an empty file.
            return [(FileName(1), snapshot.Final ? $"{Description} printed no output.\n" : $"{Description} has started; its output appears here as it runs.\n")];
        }

        var text = new StringBuilder((int)Math.Min(snapshot.Head.Length + snapshot.TailBytes + 1024, int.MaxValue));
        text.Append(snapshot.Head);

        // The tail is trimmed to whole lines within its budget; what is trimmed joins what was dropped.
        var excess = budget.TailExcess(snapshot.TailBytes);
        var elidedBytes = snapshot.DroppedBytes;
        var elidedLines = snapshot.DroppedLines;
        var tailText = new StringBuilder();
        foreach (var chunk in snapshot.Tail)
        {
            var content = chunk.Content;
            var position = 0;
            while (position < content.Length)
            {
                var end = EndOfLine(content, position);
                var line = content.AsSpan(position + 1, end - position - 1);
                if (excess > 0)
                {
                    var bytes = Encoding.UTF8.GetByteCount(line) + 1;
                    excess -= bytes;
                    elidedBytes += bytes;
                    elidedLines++;
                }
                else
                {
                    tailText.Append(line).Append('\n');
                }

                position = end + 1;
            }
        }

        if (elidedLines > 0)
        {
            text.Append(budget.Marker(elidedBytes, elidedLines, "this gist", logUrl)).Append('\n');
        }

        text.Append(tailText);
        return Split(text.ToString()).Select((content, index) => (FileName(index + 1), content)).ToList();
    }

    private string FileName(int number) => $"heaven-deployment-{DeploymentId}-{number:00}.log";

    /// <summary>Cuts text into pieces under <see cref="MaxFileBytes"/> UTF-8 bytes, at a line end when one is near.</summary>
    internal static List<string> Split(string text, int maxFileBytes = MaxFileBytes)
    {
        var files = new List<string>();
        var start = 0;
        while (start < text.Length)
        {
            var end = start;
            var bytes = 0;
            while (end < text.Length)
            {
                var c = text[end];
                var width = c < 0x80 ? 1 : c < 0x800 ? 2 : char.IsHighSurrogate(c) && end + 1 < text.Length && char.IsLowSurrogate(text[end + 1]) ? 4 : 3;
                if (bytes + width > maxFileBytes)
                {
                    break;
                }

                bytes += width;
                end += width == 4 ? 2 : 1;
            }

            if (end < text.Length)
            {
                var lastNewline = text.LastIndexOf('\n', end - 1, end - start);
                if (lastNewline >= start + ((end - start) * 9 / 10))
                {
                    end = lastNewline + 1;
                }
            }

            var piece = text[start..end];
            // GitHub refuses a blank gist file (and would stop the mirror): say what is there instead.
            files.Add(string.IsNullOrWhiteSpace(piece) ? $"[Heaven: {LogText.Count(piece.Length)} blank characters of output]\n" : piece);
            start = end;
        }

        return files;
    }

    private static int EndOfLine(string content, int position)
    {
        var end = content.IndexOf('\n', position);
        return end < 0 ? content.Length : end;
    }

    private static int CountLines(string content)
    {
        var count = content.AsSpan().Count('\n');
        return content.EndsWith('\n') ? count : count + 1;
    }

    private static (int Length, int Hash) Fingerprint(string content) => (content.Length, string.GetHashCode(content, StringComparison.Ordinal));

    private sealed record TailChunk(string Content, int Lines, long PlainBytes);

    private sealed record Snapshot(bool AnyOutput, bool Final, string Head, TailChunk[] Tail, long TailBytes, long DroppedBytes, long DroppedLines);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId}'s output is mirrored to gist {HtmlUrl}")]
        public static partial void Created(ILogger logger, long deploymentId, string htmlUrl);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not {Action} the gist of deployment {DeploymentId} ({Error}: {Message}); trying again at the next update")]
        public static partial void Failed(ILogger logger, long deploymentId, string action, string error, string message);

        [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub refused the gist of deployment {DeploymentId} ({StatusCode}: {Message}); its output is not mirrored to a gist")]
        public static partial void Rejected(ILogger logger, long deploymentId, int statusCode, string message);

        [LoggerMessage(Level = LogLevel.Warning, Message = "The final gist update of deployment {DeploymentId} did not finish within {Seconds} s and was abandoned")]
        public static partial void FinalUpdateAbandoned(ILogger logger, long deploymentId, double seconds);

        [LoggerMessage(Level = LogLevel.Error, Message = "The gist mirror of deployment {DeploymentId} stopped")]
        public static partial void MirrorFailed(ILogger logger, long deploymentId, Exception exception);
    }
}
