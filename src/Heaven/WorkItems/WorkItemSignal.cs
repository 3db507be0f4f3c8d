using Heaven.Storage;

namespace Heaven.WorkItems;

/// <summary>
/// Wakes the consumers of work items as soon as an item of their kind is recorded, on this node and,
/// when this node will not send it soon itself (see <see cref="Wake"/>), through
/// <see cref="ClusterSignals"/> (topic <see cref="ClusterTopics.WorkRecorded"/>) on every other node
/// sharing the database, so they need not wait for their next poll. Consumers still poll: retries
/// that became due, and items whose announcement was lost or never sent, are found that way.
/// </summary>
/// <remarks>
/// No wake is lost, whatever the timing: every wake is counted per kind, and each waiter (one per
/// key) remembers the count it last saw. A wake that comes while its consumer is busy, or before it
/// ever waited, makes the next wait return at once. A spare round costs one query; a lost wake costs
/// a whole poll interval.
/// </remarks>
public sealed class WorkItemSignal
{
    private readonly TimeProvider time;
    private readonly ClusterSignals? cluster;
    private readonly Lock gate = new();
    private readonly Dictionary<string, long> wakes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Waiter> waiters = new(StringComparer.Ordinal);

    /// <summary>Wakes that concern every kind: announcements may have been missed.</summary>
    private long wakesOfAll;

    /// <param name="cluster">Carries wakes to and from the other nodes; without it, wakes stay in this process.</param>
    public WorkItemSignal(TimeProvider time, ClusterSignals? cluster = null)
    {
        this.time = time;
        this.cluster = cluster;
        // Lives as long as the process: the signal is a singleton.
        cluster?.Subscribe(ClusterTopics.WorkRecorded, kind => WakeHere(string.IsNullOrEmpty(kind) ? null : kind));
    }

    /// <summary>
    /// Items of <paramref name="kind"/> were committed (call after the commit, never before). When this
    /// process runs a consumer of the kind that will look soon, only it is woken: the other nodes would
    /// each spend a query to find the items taken, and they still find them at their poll should this
    /// node die first. Otherwise (a command-line process, a node without that consumer, or one stuck in a
    /// round for longer than its poll interval) every node is woken.
    /// </summary>
    public void Wake(string kind)
    {
        if (cluster is null || (cluster.SpansNodes && SentHereSoon(kind)))
        {
            WakeHere(kind);
        }
        else
        {
            // Comes back to this node's subscription at once, and goes to the others.
            cluster.Announce(ClusterTopics.WorkRecorded, kind);
        }
    }

    /// <summary>Whether a consumer of <paramref name="kind"/> in this process is waiting, or in a round that began less than its poll interval ago.</summary>
    private bool SentHereSoon(string kind)
    {
        lock (gate)
        {
            return waiters.Values.Any(w => w.Matches(kind) && (w.Parked || time.GetElapsedTime(w.RoundStartedAt) < w.Poll));
        }
    }

    /// <summary>Wakes this process's waiters of <paramref name="kind"/>, or all of them (null).</summary>
    private void WakeHere(string? kind)
    {
        lock (gate)
        {
            if (kind is null)
            {
                wakesOfAll++;
            }
            else
            {
                wakes[kind] = wakes.GetValueOrDefault(kind) + 1;
            }

            foreach (var waiter in waiters.Values)
            {
                if (kind is null || waiter.Matches(kind))
                {
                    if (waiter.Parked)
                    {
                        waiter.RoundStartedAt = time.GetTimestamp();
                    }

                    waiter.Woken?.TrySetResult();
                    waiter.Woken = null;
                    waiter.Parked = false;
                }
            }
        }
    }

    /// <summary>
    /// Returns when items of <paramref name="kindOrPrefix"/> were committed since this key's last wait
    /// ended, or after <paramref name="poll"/>. A key ending in <c>:</c> is a prefix (<c>notify:</c>
    /// matches <c>notify:slack</c>); any other key is one exact kind.
    /// </summary>
    public Task WaitAsync(string kindOrPrefix, TimeSpan poll, CancellationToken cancellationToken) =>
        WaitAsync([kindOrPrefix], poll, cancellationToken, null);

    /// <summary>Whether other nodes' announcements reach this node now (see <see cref="ClusterSignals.Hearing"/>); false with one node.</summary>
    public bool HearsOtherNodes => cluster is { SpansNodes: true, Hearing: true };

    /// <summary>
    /// As <see cref="WaitAsync(string, TimeSpan, CancellationToken)"/>, woken by any of several kinds or
    /// prefixes; waits <paramref name="quietWait"/> instead of <paramref name="poll"/> when given (a
    /// consumer whose work is announced polls seldom). <paramref name="poll"/> stays how long a round may
    /// take before the consumer counts as stuck. True when woken, false when the wait ran out.
    /// </summary>
    public async Task<bool> WaitAsync(IReadOnlyCollection<string> kindsOrPrefixes, TimeSpan poll, CancellationToken cancellationToken, TimeSpan? quietWait = null)
    {
        ArgumentOutOfRangeException.ThrowIfZero(kindsOrPrefixes.Count);
        Waiter waiter;
        Task woken;
        lock (gate)
        {
            waiter = WaiterFor(kindsOrPrefixes);
            waiter.Poll = poll;
            var count = Count(waiter);
            if (count != waiter.Seen)
            {
                waiter.Seen = count;
                waiter.RoundStartedAt = time.GetTimestamp();
                return true;
            }

            waiter.Woken ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            woken = waiter.Woken.Task;
            waiter.Parked = true;
            waiter.OnParked?.TrySetResult();
            waiter.OnParked = null;
        }

        var wasWoken = true;
        try
        {
            await woken.WaitAsync(quietWait ?? poll, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            // The poll interval passed: the consumer looks for work recorded elsewhere.
            wasWoken = false;
        }

        lock (gate)
        {
            waiter.Seen = Count(waiter);
            waiter.Parked = false;
            waiter.RoundStartedAt = time.GetTimestamp();
        }

        return wasWoken;
    }

    /// <summary>
    /// For tests, instead of sleeping "to let it go to sleep": completes when the consumer that waits
    /// with <paramref name="kindsOrPrefixes"/> is parked in <see cref="WaitAsync(IReadOnlyCollection{string}, TimeSpan, CancellationToken, TimeSpan?)"/>
    /// (its round is over and no wake is pending) — at once when it is now, unless <paramref name="next"/>
    /// asks for its next park after this call.
    /// </summary>
    internal Task ParkedAsync(IReadOnlyCollection<string> kindsOrPrefixes, bool next = false)
    {
        lock (gate)
        {
            var waiter = WaiterFor(kindsOrPrefixes);
            if (waiter.Parked && !next)
            {
                return Task.CompletedTask;
            }

            waiter.OnParked ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return waiter.OnParked.Task;
        }
    }

    private Waiter WaiterFor(IReadOnlyCollection<string> kindsOrPrefixes)
    {
        var key = string.Join('\n', kindsOrPrefixes.Order(StringComparer.Ordinal));
        if (!waiters.TryGetValue(key, out var waiter))
        {
            waiter = new Waiter(kindsOrPrefixes.ToArray());
            waiters[key] = waiter;
        }

        return waiter;
    }

    private long Count(Waiter waiter)
    {
        var count = wakesOfAll;
        foreach (var (kind, n) in wakes)
        {
            if (waiter.Matches(kind))
            {
                count += n;
            }
        }

        return count;
    }

    private sealed class Waiter(string[] keys)
    {
        /// <summary>The count of matching wakes when this waiter's last wait ended.</summary>
        public long Seen { get; set; }

        public TaskCompletionSource? Woken { get; set; }

        /// <summary>In a wait that no wake has ended yet (see <see cref="ParkedAsync"/>).</summary>
        public bool Parked { get; set; }

        public TaskCompletionSource? OnParked { get; set; }

        /// <summary>When its consumer's current round began (its last wait ended).</summary>
        public long RoundStartedAt { get; set; }

        /// <summary>The poll interval of its consumer's last wait: a round longer than that counts as stuck.</summary>
        public TimeSpan Poll { get; set; }

        public bool Matches(string kind) => keys.Any(key =>
            key.EndsWith(':') ? kind.StartsWith(key, StringComparison.Ordinal) : string.Equals(key, kind, StringComparison.Ordinal));
    }
}
