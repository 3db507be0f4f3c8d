using System.Buffers;

namespace Heaven.Intake;

/// <summary>Why a body was not read to its end.</summary>
internal enum BodyRefusal
{
    None,

    /// <summary>Longer than <c>Webhooks:MaxBodyBytes</c>.</summary>
    TooLarge,

    /// <summary>Taking more would put the bodies not yet verified over <c>Webhooks:MaxPendingBodyBytes</c>.</summary>
    Busy,
}

/// <summary>
/// A webhook body as it arrived, in pooled segments. Each segment is reserved from the
/// <see cref="PendingBodyBudget"/> before it is taken, and the buffer grows only as bytes arrive: what
/// a request announces (<c>Content-Length</c>) sizes nothing. The reservation lasts until the
/// signature is checked (<see cref="Verified"/>) or the request ends (<see cref="Dispose"/>).
/// </summary>
internal sealed class WebhookBody : IDisposable
{
    /// <summary>Small first: a request that sends a few bytes and stalls holds little.</summary>
    internal const int FirstSegmentBytes = 4 * 1024;

    private const int LargestSegmentBytes = 64 * 1024;

    private readonly PendingBodyBudget budget;
    private readonly List<Segment> segments = [];
    private long capacity;
    private long reserved;
    private bool disposed;

    private WebhookBody(PendingBodyBudget budget) => this.budget = budget;

    public long Length { get; private set; }

    /// <summary>The body's bytes, in order.</summary>
    public ReadOnlySequence<byte> Bytes
    {
        get
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            var used = segments.Where(s => s.Length > 0).ToList();
            if (used.Count == 0)
            {
                return ReadOnlySequence<byte>.Empty;
            }

            if (used.Count == 1)
            {
                return new ReadOnlySequence<byte>(used[0].Array, 0, used[0].Length);
            }

            var first = new Chain(used[0].Array.AsMemory(0, used[0].Length), 0);
            var last = first;
            foreach (var segment in used.Skip(1))
            {
                last = last.Append(segment.Array.AsMemory(0, segment.Length));
            }

            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }

    /// <summary>
    /// Reads the whole body: the body, or null and why not. Stops reading as soon as the body is over
    /// <paramref name="limit"/> or the budget has no room for the next segment.
    /// </summary>
    public static async Task<(WebhookBody? Body, BodyRefusal Refusal)> ReadAsync(Stream stream, long limit, PendingBodyBudget budget, CancellationToken cancellationToken)
    {
        var body = new WebhookBody(budget);
        try
        {
            var size = (long)FirstSegmentBytes;
            while (true)
            {
                if (body.capacity == limit)
                {
                    // Every segment is full and the body is at the limit: one byte more makes it too large.
                    var probe = new byte[1];
                    if (await stream.ReadAsync(probe, cancellationToken) == 0)
                    {
                        return (body, BodyRefusal.None);
                    }

                    body.Dispose();
                    return (null, BodyRefusal.TooLarge);
                }

                var take = (int)Math.Min(size, limit - body.capacity);
                if (!budget.TryReserve(take))
                {
                    body.Dispose();
                    return (null, BodyRefusal.Busy);
                }

                body.reserved += take;
                body.capacity += take;
                var segment = new Segment(ArrayPool<byte>.Shared.Rent(take));
                body.segments.Add(segment);
                while (segment.Length < take)
                {
                    var read = await stream.ReadAsync(segment.Array.AsMemory(segment.Length, take - segment.Length), cancellationToken);
                    if (read == 0)
                    {
                        return (body, BodyRefusal.None);
                    }

                    segment.Length += read;
                    body.Length += read;
                }

                size = Math.Min(size * 2, LargestSegmentBytes);
            }
        }
        catch
        {
            body.Dispose();
            throw;
        }
    }

    /// <summary>The signature is checked: the bytes no longer count as an unauthenticated sender's.</summary>
    public void Verified() => ReleaseReservation();

    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        ReleaseReservation();
        foreach (var segment in segments)
        {
            ArrayPool<byte>.Shared.Return(segment.Array);
        }

        segments.Clear();
    }

    private void ReleaseReservation()
    {
        budget.Release(reserved);
        reserved = 0;
    }

    private sealed class Segment(byte[] array)
    {
        public byte[] Array { get; } = array;

        public int Length { get; set; }
    }

    private sealed class Chain : ReadOnlySequenceSegment<byte>
    {
        public Chain(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Chain Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Chain(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
