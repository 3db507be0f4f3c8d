using System.Threading.Channels;
using Heaven.Model;

namespace Heaven.Execution;

/// <summary>
/// The one loop that hands lines to the output sink. Both stream readers and the runner's own notes
/// queue here, so the sink is never called concurrently and each stream's lines keep their order.
/// A reader queues the lines of one pipe read together (a flood of short lines costs one hand-over
/// per read, not one per line) and waits when too many of its batches are queued (a slow sink slows
/// the child through its pipe, it does not fill memory); the runner's notes never wait, so a stuck
/// sink cannot delay stopping a deploy. Sink writes are not tied to the caller's cancellation: what
/// a script prints while it cleans up after SIGINT belongs in the log.
/// </summary>
internal sealed class OutputPump : IDisposable
{
    // A batch is what one read of the pipe completed: at most the reader's buffer of new text plus one
    // line carried over from earlier reads (at most MaxLineLength), so this bounds the memory a slow
    // sink can cost (64 x (16 Ki + 64 Ki) chars with the defaults; the lines one at a time allowed 256 x 64 Ki).
    private const int MaxQueuedChildBatches = 64;

    private readonly IOutputSink sink;
    private readonly TimeProvider timeProvider;
    private readonly Channel<QueuedLines> queue = Channel.CreateUnbounded<QueuedLines>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim childCredit = new(MaxQueuedChildBatches, MaxQueuedChildBatches);
    private readonly CancellationTokenSource abort = new();
    private readonly TaskCompletionSource failed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task consumer;
    private int dropped;

    public OutputPump(IOutputSink sink, TimeProvider timeProvider)
    {
        this.sink = sink;
        this.timeProvider = timeProvider;
        consumer = Task.Run(ConsumeAsync);
    }

    /// <summary>Completes when the sink has thrown; later lines are dropped.</summary>
    public Task Failed => failed.Task;

    /// <summary>What the sink threw, if it did.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>Lines not handed to the sink (it failed, or did not take them in time).</summary>
    public int Dropped => Volatile.Read(ref dropped);

    /// <summary>
    /// Queues lines of the child's output, in order, waiting while too many batches are queued. False
    /// when the pump is closed. The pump keeps the array: the caller must not change it afterwards.
    /// </summary>
    public async ValueTask<bool> WriteChildLinesAsync(OutputStream stream, string[] lines, CancellationToken cancellationToken)
    {
        await childCredit.WaitAsync(cancellationToken);
        if (queue.Writer.TryWrite(new QueuedLines(stream, lines, FromChild: true)))
        {
            return true;
        }

        childCredit.Release();
        return false;
    }

    /// <summary>Queues lines without waiting (a reader being abandoned keeps what it had already read).</summary>
    public bool TryWriteChildLines(OutputStream stream, string[] lines) => queue.Writer.TryWrite(new QueuedLines(stream, lines, FromChild: false));

    /// <summary>Queues one of Heaven's own lines ("Timed out after 300 s; sending SIGINT ..."); never waits.</summary>
    public void WriteHeaven(string text) => queue.Writer.TryWrite(new QueuedLines(OutputStream.Heaven, [text], FromChild: false));

    /// <summary>No more lines: waits a bounded time for the sink to take what is queued, then drops the rest.</summary>
    public async Task CompleteAsync(TimeSpan flushTimeout)
    {
        queue.Writer.TryComplete();
        if (await Waits.CompletesWithinAsync(consumer, flushTimeout, timeProvider))
        {
            return;
        }

        abort.Cancel();
        // A sink that ignores its cancellation token is left behind rather than waited for.
        await Waits.CompletesWithinAsync(consumer, TimeSpan.FromSeconds(1), timeProvider);
    }

    public void Dispose()
    {
        queue.Writer.TryComplete();
        abort.Cancel();
        abort.Dispose();
    }

    private async Task ConsumeAsync()
    {
        await foreach (var batch in queue.Reader.ReadAllAsync(CancellationToken.None))
        {
            foreach (var text in batch.Lines)
            {
                if (Failure is null && !abort.IsCancellationRequested)
                {
                    try
                    {
                        await sink.WriteLineAsync(batch.Stream, text, abort.Token);
                    }
                    catch (OperationCanceledException) when (abort.IsCancellationRequested)
                    {
                        Interlocked.Increment(ref dropped);
                    }
                    catch (Exception e)
                    {
                        Failure = e;
                        Interlocked.Increment(ref dropped);
                        failed.TrySetResult();
                    }
                }
                else
                {
                    Interlocked.Increment(ref dropped);
                }
            }

            if (batch.FromChild)
            {
                childCredit.Release();
            }
        }
    }

    private readonly record struct QueuedLines(OutputStream Stream, string[] Lines, bool FromChild);
}
