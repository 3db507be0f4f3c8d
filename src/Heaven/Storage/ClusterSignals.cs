using System.Threading.Channels;
using Npgsql;

namespace Heaven.Storage;

/// <summary>
/// Wake-ups between the nodes sharing one database: a component announces that something it committed
/// is worth a look (a deployment queued, a cancel requested, log lines stored, ...) and the components
/// that care, on every node, look at once instead of at their next poll. An announcement carries only a
/// topic and a subject (an id or a kind), never data: the receiver reads the database as it would on a
/// poll, so a lost, late or duplicated announcement costs at most a poll interval, never correctness.
/// </summary>
/// <remarks>
/// <para>Subscribers on this node are called at once, in the announcing thread; a handler must only
/// signal (release a semaphore, complete a task), never do the work itself.</para>
/// <para>On PostgreSQL the announcement also goes to the other nodes through <c>NOTIFY</c> on one channel,
/// sent after the commit by a background sender rather than with <c>pg_notify</c> inside the writer's
/// transaction: the writers are many and spread over components, and each would have to carry the
/// notification into its own transaction; sent after the commit, a node that dies between commit and
/// notify only leaves the others to their poll, which is the safety net anyway. The
/// <see cref="ClusterListener"/> delivers other nodes' announcements; this node's own echoes are
/// skipped. On SQLite (one node) announcements stay in this process.</para>
/// </remarks>
public sealed partial class ClusterSignals : IAsyncDisposable
{
    /// <summary>The PostgreSQL channel every node listens on.</summary>
    public const string Channel = "heaven";

    /// <summary>What <c>application_name</c> the listening connection carries (followed by <see cref="Origin"/>): a person finds it in <c>pg_stat_activity</c>.</summary>
    public const string ListenerApplicationName = "heaven listener";

    private const int BatchLimit = 100;

    private readonly Lock gate = new();
    private readonly Dictionary<string, List<Subscription>> subscriptions = new(StringComparer.Ordinal);
    private readonly NpgsqlDataSource? sender;
    private readonly ILogger logger;
    private readonly Channel<string>? outgoing;
    private Task? sending;
    private int sendFailuresLogged;

    /// <summary>Announcements stay on this node (SQLite, or a test without a database).</summary>
    public ClusterSignals(ILogger<ClusterSignals> logger)
        : this(null, logger)
    {
    }

    internal ClusterSignals(string? postgresConnectionString, ILogger<ClusterSignals> logger)
    {
        this.logger = logger;
        if (postgresConnectionString is not null)
        {
            var builder = new NpgsqlConnectionStringBuilder(postgresConnectionString)
            {
                ApplicationName = "heaven notify",
                // One connection sends everything; a second one covers a send racing a fresh one.
                MaxPoolSize = 2,
            };
            sender = NpgsqlDataSource.Create(builder.ConnectionString);
            outgoing = System.Threading.Channels.Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
        }
    }

    /// <summary>This instance's mark on what it sends, so it can tell its own echoes from other nodes' announcements.</summary>
    public string Origin { get; } = Guid.NewGuid().ToString("N")[..16];

    /// <summary>Whether announcements reach other nodes (PostgreSQL).</summary>
    public bool SpansNodes => sender is not null;

    private volatile bool hearing;

    /// <summary>
    /// Whether this node hears the other nodes' announcements now (its <c>LISTEN</c> connection is up):
    /// while it does, polls are only a safety net and may be far apart.
    /// </summary>
    public bool Hearing
    {
        get => hearing;
        internal set => hearing = value;
    }

    /// <summary>
    /// Something of <paramref name="topic"/> (about <paramref name="subject"/>) was committed: wakes this
    /// node's subscribers now and, on PostgreSQL, the other nodes' within a round trip. Call it after the
    /// commit, never before: a node woken early would look and find nothing. Never throws, never waits.
    /// </summary>
    public void Announce(string topic, string subject = "")
    {
        Deliver(topic, subject);
        AnnounceElsewhere(topic, subject);
    }

    /// <summary>
    /// As <see cref="Announce"/>, for the other nodes only: this node's subscribers are not called. For a
    /// node that looked itself and found work it cannot take (no free slot, drained) — waking its own
    /// subscribers again would only repeat that look. Nothing happens on SQLite (one node).
    /// </summary>
    public void AnnounceElsewhere(string topic, string subject = "")
    {
        if (outgoing is null)
        {
            return;
        }

        outgoing.Writer.TryWrite(Payload(topic, subject));
        lock (gate)
        {
            // Started on first use, so a process that never announces (a CLI command) opens no connection.
            sending ??= Task.Run(SendLoopAsync);
        }
    }

    /// <summary>
    /// As <see cref="Announce"/>, and returns once the other nodes' announcement was handed to the
    /// database: for a command that exits right after its change (<c>heaven drain</c>).
    /// </summary>
    public async Task AnnounceAsync(string topic, string subject, CancellationToken cancellationToken)
    {
        Deliver(topic, subject);
        if (sender is null)
        {
            return;
        }

        try
        {
            await SendAsync([Payload(topic, subject)], cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.SendFailed(logger, e.GetType().Name);
        }
    }

    /// <summary>
    /// Calls <paramref name="handler"/> for every announcement of <paramref name="topic"/>, on any node,
    /// with its subject; with null when anything may have been missed (the listening connection was
    /// re-established), so the subscriber looks at everything it watches. Dispose the result to stop.
    /// </summary>
    public IDisposable Subscribe(string topic, Action<string?> handler) => Add(new Subscription(this, topic, handler, hereOnly: false));

    /// <summary>
    /// As <see cref="Subscribe"/>, for the announcements made in this process only: for a subscriber that
    /// acts on what its own node did, while the other nodes act on theirs (a dispatcher looks at the queue
    /// when a deploy of its own node ended, not at every end in the cluster).
    /// </summary>
    public IDisposable SubscribeHere(string topic, Action<string?> handler) => Add(new Subscription(this, topic, handler, hereOnly: true));

    private Subscription Add(Subscription subscription)
    {
        var topic = subscription.Topic;
        lock (gate)
        {
            if (!subscriptions.TryGetValue(topic, out var list))
            {
                list = [];
                subscriptions[topic] = list;
            }

            list.Add(subscription);
        }

        return subscription;
    }

    /// <summary>
    /// As <see cref="Subscribe"/>, for the announcements of <paramref name="topic"/> about one deployment:
    /// <paramref name="handler"/> is called for those about it and for those about none in particular (an
    /// empty subject, or null when anything may have been missed).
    /// </summary>
    public IDisposable SubscribeToDeployment(string topic, long deploymentId, Action handler)
    {
        var subject = ClusterTopics.Subject(deploymentId);
        return Subscribe(topic, about =>
        {
            if (about is null or "" || about == subject)
            {
                handler();
            }
        });
    }

    /// <summary>Wakes every subscriber (subject null): announcements may have been missed.</summary>
    internal void WakeAll()
    {
        foreach (var subscription in Snapshot(topic: null))
        {
            // What may have been missed came from elsewhere.
            if (!subscription.HereOnly)
            {
                subscription.Call(null);
            }
        }
    }

    /// <summary>An announcement from the channel: delivered here unless this instance sent it.</summary>
    internal void Received(string payload)
    {
        var parts = payload.Split('|', 3);
        if (parts.Length != 3 || parts[0] == Origin)
        {
            return;
        }

        Deliver(parts[1], parts[2], fromHere: false);
    }

    private void Deliver(string topic, string subject, bool fromHere = true)
    {
        foreach (var subscription in Snapshot(topic))
        {
            if (fromHere || !subscription.HereOnly)
            {
                subscription.Call(subject);
            }
        }
    }

    private List<Subscription> Snapshot(string? topic)
    {
        lock (gate)
        {
            return topic is null
                ? subscriptions.Values.SelectMany(s => s).ToList()
                : subscriptions.TryGetValue(topic, out var list) ? [.. list] : [];
        }
    }

    private string Payload(string topic, string subject) => $"{Origin}|{topic}|{subject}";

    private async Task SendLoopAsync()
    {
        var reader = outgoing!.Reader;
        var batch = new List<string>();
        while (await reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < BatchLimit && reader.TryRead(out var payload))
            {
                // PostgreSQL folds identical notifications of one transaction into one; so does this.
                if (!batch.Contains(payload, StringComparer.Ordinal))
                {
                    batch.Add(payload);
                }
            }

            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await SendAsync(batch, timeout.Token);
                sendFailuresLogged = 0;
            }
            catch (Exception e)
            {
                // The other nodes find the change at their next poll. Said once per outage, not per announcement.
                if (sendFailuresLogged++ == 0)
                {
                    Log.SendFailed(logger, e.GetType().Name);
                }
            }
        }
    }

    private async Task SendAsync(IReadOnlyList<string> payloads, CancellationToken cancellationToken)
    {
        await using var command = sender!.CreateCommand("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p");
        command.Parameters.Add(new NpgsqlParameter { Value = Channel });
        command.Parameters.Add(new NpgsqlParameter { Value = payloads.ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        outgoing?.Writer.TryComplete();
        Task? loop;
        lock (gate)
        {
            loop = sending;
        }

        if (loop is not null)
        {
            // What is queued goes out; a database that is away does not hold the stop up for long.
            await loop.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        if (sender is not null)
        {
            await sender.DisposeAsync();
        }
    }

    private sealed class Subscription(ClusterSignals owner, string topic, Action<string?> handler, bool hereOnly) : IDisposable
    {
        public string Topic => topic;

        public bool HereOnly => hereOnly;

        public void Call(string? subject)
        {
            try
            {
                handler(subject);
            }
            catch (Exception e)
            {
                // One subscriber's fault must not keep the announcement from the others.
                Log.HandlerFailed(owner.logger, topic, e);
            }
        }

        public void Dispose()
        {
            lock (owner.gate)
            {
                if (owner.subscriptions.TryGetValue(topic, out var list))
                {
                    list.Remove(this);
                }
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not tell the other nodes about a change ({Error}); they find it at their next poll")]
        public static partial void SendFailed(ILogger logger, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "A wake-up subscriber of '{Topic}' failed")]
        public static partial void HandlerFailed(ILogger logger, string topic, Exception exception);
    }
}
