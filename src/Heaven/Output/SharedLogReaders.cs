using System.Threading.Channels;
using Heaven.Storage;

namespace Heaven.Output;

/// <summary>
/// One reader per deployment whose log another node writes, shared by all of this node's viewers of it:
/// it reads each newly stored chunk once, when the writing node announces stored lines or the end
/// (<see cref="ClusterSignals"/>) and every poll interval in case an announcement was lost, and publishes
/// the lines into a <see cref="LiveLogFeed"/> the viewers follow as they follow a log written here. So
/// hundreds of viewers cost the database what one does.
/// </summary>
/// <remarks>
/// A reader starts with its first viewer, where that viewer's own read of the stored log ended (viewers
/// read what was stored before they came from the database, once each), completes its feed once the deployment is finished and every
/// stored line is published, and stops as soon as its last viewer leaves.
/// </remarks>
internal sealed partial class SharedLogReaders(
    DeploymentLogReader reader,
    Func<long, CancellationToken, Task<DeploymentLogState?>> stateOf,
    Func<TimeSpan> pollInterval,
    ClusterSignals cluster,
    TimeProvider time,
    ILogger logger)
{
    // Fields, not captured parameters: the readers (nested) use them.
    private readonly DeploymentLogReader reader = reader;
    private readonly Func<long, CancellationToken, Task<DeploymentLogState?>> stateOf = stateOf;
    private readonly Func<TimeSpan> pollInterval = pollInterval;
    private readonly ClusterSignals cluster = cluster;
    private readonly TimeProvider time = time;
    private readonly ILogger logger = logger;
    private readonly Lock gate = new();
    private readonly Dictionary<long, SharedReader> readers = [];
    private int running;
    private long rounds;

    /// <summary>The deployments with a shared reader now.</summary>
    public int Count
    {
        get
        {
            lock (gate)
            {
                return readers.Count;
            }
        }
    }

    /// <summary>How many of this node's viewers share the deployment's reader now (0 without one).</summary>
    public int ViewersOf(long deploymentId)
    {
        lock (gate)
        {
            return readers.TryGetValue(deploymentId, out var shared) ? shared.Viewers : 0;
        }
    }

    /// <summary>Readers whose loop has not ended yet (one that lost its last viewer ends within moments).</summary>
    public int Running => Volatile.Read(ref running);

    /// <summary>How many times a reader has looked at the database for new lines, over all deployments.</summary>
    public long Rounds => Interlocked.Read(ref rounds);

    /// <summary>
    /// Joins (or starts) the deployment's shared reader; its feed holds the lines stored from about now
    /// on. A viewer that starts it has read the stored lines before <paramref name="nextLine"/>: the
    /// reader goes on from there (or from the end of the stored log, if that comes first), so no line
    /// stored meanwhile is missing from the feed. Dispose the result to leave: the last viewer to leave
    /// stops the reader.
    /// </summary>
    public async Task<Viewer> AttachAsync(long deploymentId, long nextLine, CancellationToken cancellationToken)
    {
        SharedReader shared;
        lock (gate)
        {
            if (!readers.TryGetValue(deploymentId, out shared!))
            {
                shared = new SharedReader(this, deploymentId, nextLine);
                readers[deploymentId] = shared;
                shared.Start();
            }

            shared.Viewers++;
        }

        var viewer = new Viewer(this, shared);
        try
        {
            await viewer.StartAsync(cancellationToken);
            return viewer;
        }
        catch
        {
            viewer.Dispose();
            throw;
        }
    }

    private void Leave(SharedReader shared)
    {
        lock (gate)
        {
            if (--shared.Viewers > 0)
            {
                return;
            }

            Forget(shared);
        }

        shared.Stop();
    }

    /// <summary>A new viewer no longer finds it (called under the lock); its current viewers keep it.</summary>
    private void Forget(SharedReader shared)
    {
        if (readers.TryGetValue(shared.DeploymentId, out var current) && current == shared)
        {
            readers.Remove(shared.DeploymentId);
        }
    }

    /// <summary>One viewer's hold on a shared reader.</summary>
    public sealed class Viewer : IDisposable
    {
        private readonly SharedLogReaders owner;
        private readonly SharedReader shared;
        private int left;

        internal Viewer(SharedLogReaders owner, SharedReader shared)
        {
            this.owner = owner;
            this.shared = shared;
        }

        /// <summary>The lines stored since the reader started, as they are stored; complete once the deployment is finished and all are in.</summary>
        public LiveLogFeed Feed { get; private set; } = null!;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref left, 1) == 0)
            {
                owner.Leave(shared);
            }
        }

        internal async Task StartAsync(CancellationToken cancellationToken) => Feed = await shared.Started.WaitAsync(cancellationToken);
    }

    /// <summary>The reader of one deployment's stored log.</summary>
    internal sealed class SharedReader(SharedLogReaders owner, long deploymentId, long firstLine)
    {
        private readonly CancellationTokenSource stop = new();
        private readonly TaskCompletionSource<LiveLogFeed> started = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long DeploymentId => deploymentId;

        /// <summary>Viewers holding it; changed under the owner's lock.</summary>
        public int Viewers { get; set; }

        public Task<LiveLogFeed> Started => started.Task;

        public void Start()
        {
            Interlocked.Increment(ref owner.running);
            _ = Task.Run(RunAsync);
        }

        public void Stop() => stop.Cancel();

        private async Task RunAsync()
        {
            var cancellationToken = stop.Token;
            // Before the first read, so lines stored between that read and the wait still wake it.
            var announced = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
            void Heard() => announced.Writer.TryWrite(true);
            using var linesStored = owner.cluster.SubscribeToDeployment(ClusterTopics.LogWritten, deploymentId, Heard);
            using var finished = owner.cluster.SubscribeToDeployment(ClusterTopics.DeploymentFinished, deploymentId, Heard);
            try
            {
                LiveLogFeed? feed = null;
                while (true)
                {
                    try
                    {
                        if (feed is null)
                        {
                            // A line its first viewer has (seen live on the node running the deploy, before
                            // it was stored) need not be stored yet: the reader starts no later than the stored end.
                            feed = new LiveLogFeed(deploymentId, Math.Min(firstLine, await owner.reader.StoredEndAsync(deploymentId, cancellationToken)));
                            started.TrySetResult(feed);
                        }

                        if (await ReadNewLinesAsync(feed, cancellationToken))
                        {
                            return;
                        }
                    }
                    catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                    {
                        // The database is away: the viewers wait, and the next round tries again.
                        Log.ReadFailed(owner.logger, deploymentId, e.GetType().Name);
                    }

                    // An announcement, or the poll interval passing without one: look again either way.
                    await DeploymentLogFollower.HeardWithinAsync(announced.Reader, owner.pollInterval(), owner.time, cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The last viewer left.
            }
            finally
            {
                started.TrySetCanceled(CancellationToken.None);
                lock (owner.gate)
                {
                    owner.Forget(this);
                }

                Interlocked.Decrement(ref owner.running);
            }
        }

        /// <summary>Publishes the lines stored since the last round; true once the deployment is finished and all of them are in.</summary>
        private async Task<bool> ReadNewLinesAsync(LiveLogFeed feed, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref owner.rounds);
            // The state first: output is stored before a deployment is marked finished, so a read after
            // seeing it finished finds every line.
            var state = await owner.stateOf(deploymentId, cancellationToken);
            await foreach (var line in owner.reader.ReadAsync(deploymentId, feed.Published, cancellationToken))
            {
                feed.Publish(line.Number, line.Stream, line.Text);
            }

            if (state is null || state.IsFinished)
            {
                feed.Complete();
                return true;
            }

            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the stored log of deployment {DeploymentId} for its live viewers ({Error}); trying again at the next poll")]
        public static partial void ReadFailed(ILogger logger, long deploymentId, string error);
    }
}
