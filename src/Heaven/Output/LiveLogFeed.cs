using Heaven.Model;

namespace Heaven.Output;

/// <summary>
/// The most recent lines of one deployment's log, for viewers who follow it live: a ring the writer fills
/// and viewers read without ever holding the writer up. The writer is the <see cref="DeploymentLog"/>
/// when this node writes the log, or the <see cref="SharedLogReaders">shared reader</see> of its stored
/// lines when another node does.
/// </summary>
/// <remarks>
/// <para>One writer (in line order: the <see cref="DeploymentLog"/> under its own lock, or a shared reader's loop) and any number of
/// readers, without a shared lock: each slot carries its line number, set last by the writer and
/// checked by a reader before and after it copies the slot (a sequence lock per slot). A reader that
/// finds its line overwritten was too slow for the ring and reads the database instead.</para>
/// <para>Memory is bounded by <see cref="Capacity"/> lines and <see cref="MaxChars"/> characters; a
/// line costs the ring no allocation (it keeps the writer's own string).</para>
/// </remarks>
internal sealed class LiveLogFeed
{
    /// <summary>Lines kept: at a line every few milliseconds, seconds of output, well past the database's flush interval.</summary>
    internal const int Capacity = 4096;

    /// <summary>Text kept at most (2 MB in memory), so long lines cannot make the ring large.</summary>
    internal const long MaxChars = 1 << 20;

    private const long Writing = -1;

    private readonly Slot[] slots = new Slot[Capacity];
    private long published;
    private long oldest;
    private long ringChars;
    private int complete;
    private TaskCompletionSource? waiting;

    /// <param name="deploymentId">Whose log.</param>
    /// <param name="firstLine">The first line that will be published: viewers read the lines before it elsewhere (the database).</param>
    public LiveLogFeed(long deploymentId, long firstLine = 0)
    {
        DeploymentId = deploymentId;
        published = firstLine;
        oldest = firstLine;
        for (var i = 0; i < slots.Length; i++)
        {
            slots[i].Number = Writing;
        }
    }

    public long DeploymentId { get; }

    /// <summary>How many lines have been published: the next line's number.</summary>
    public long Published => Volatile.Read(ref published);

    /// <summary>True once every line is stored and no more will come.</summary>
    public bool IsComplete => Volatile.Read(ref complete) != 0;

    /// <summary>
    /// Adds the next line. Called by the one writer only, with rising numbers: consecutive ones while the
    /// log is written here; a shared reader of the stored log jumps over the lines it elided, which the
    /// ring then never holds (a viewer reading one of them goes to the database, which has the next line).
    /// </summary>
    public void Publish(long number, OutputStream stream, string text)
    {
        if (number < published)
        {
            return;
        }

        while (oldest < number && (number - oldest >= Capacity || ringChars + text.Length > MaxChars))
        {
            if (oldest >= published)
            {
                // Only jumped-over numbers are left: their slots hold nothing to evict.
                oldest = number;
                break;
            }

            ref var old = ref slots[oldest & (Capacity - 1)];
            Interlocked.Exchange(ref old.Number, Writing);
            ringChars -= old.Text?.Length ?? 0;
            old.Text = null;
            oldest++;
        }

        ref var slot = ref slots[number & (Capacity - 1)];
        // A full fence: a reader that sees the new text sees that the slot no longer holds its line.
        Interlocked.Exchange(ref slot.Number, Writing);
        slot.Stream = stream;
        slot.Text = text;
        Volatile.Write(ref slot.Number, number);
        ringChars += text.Length;
        // A full fence too: a viewer that registered to wait before this is seen below.
        Interlocked.Exchange(ref published, number + 1);
        Wake();
    }

    /// <summary>No more lines: everything published is stored.</summary>
    public void Complete()
    {
        Interlocked.Exchange(ref complete, 1);
        Wake();
    }

    /// <summary>The line numbered <paramref name="number"/>, when the ring still (or already) holds it.</summary>
    public bool TryRead(long number, out LogLine line)
    {
        ref var slot = ref slots[number & (Capacity - 1)];
        if (Volatile.Read(ref slot.Number) == number)
        {
            var text = slot.Text;
            var stream = slot.Stream;
            Interlocked.MemoryBarrier();
            if (text is not null && Volatile.Read(ref slot.Number) == number)
            {
                line = new LogLine(number, stream, text);
                return true;
            }
        }

        line = default;
        return false;
    }

    /// <summary>Completes once line <paramref name="number"/> is published or the feed is complete (and now and then without either: callers check).</summary>
    public Task WaitForLineAsync(long number, CancellationToken cancellationToken)
    {
        var waiter = Volatile.Read(ref waiting);
        if (waiter is null)
        {
            var fresh = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            waiter = Interlocked.CompareExchange(ref waiting, fresh, null) ?? fresh;
        }

        if (Volatile.Read(ref published) > number || IsComplete)
        {
            return Task.CompletedTask;
        }

        return waiter.Task.WaitAsync(cancellationToken);
    }

    private void Wake()
    {
        // Nobody waiting, the usual case while nobody watches: one read, nothing allocated.
        var waiter = Volatile.Read(ref waiting);
        if (waiter is not null && Interlocked.CompareExchange(ref waiting, null, waiter) == waiter)
        {
            waiter.TrySetResult();
        }
    }

    private struct Slot
    {
        public long Number;
        public OutputStream Stream;
        public string? Text;
    }
}
