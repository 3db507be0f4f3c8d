using System.Collections.Concurrent;

namespace Heaven.Output;

/// <summary>
/// The live feeds of the deployment logs this node is writing now. A log is here from its first line
/// until every line is stored; other nodes' deployments never are (their viewers here share a reader of
/// the stored log, <see cref="SharedLogReaders"/>).
/// </summary>
public sealed class LiveLogs
{
    private readonly ConcurrentDictionary<long, LiveLogFeed> feeds = new();

    /// <summary>How many logs are live on this node.</summary>
    public int Count => feeds.Count;

    internal LiveLogFeed Open(long deploymentId)
    {
        var feed = new LiveLogFeed(deploymentId);
        feeds[deploymentId] = feed;
        return feed;
    }

    internal void Close(LiveLogFeed feed)
    {
        feed.Complete();
        feeds.TryRemove(KeyValuePair.Create(feed.DeploymentId, feed));
    }

    internal LiveLogFeed? Find(long deploymentId) => feeds.GetValueOrDefault(deploymentId);
}
