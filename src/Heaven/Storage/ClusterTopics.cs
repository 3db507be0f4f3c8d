namespace Heaven.Storage;

/// <summary>
/// What is announced through <see cref="ClusterSignals"/>, in one place so a reader sees every wake-up
/// the nodes exchange. A subject is a deployment id or a work item kind; an empty one means "look at
/// everything you watch".
/// </summary>
public static class ClusterTopics
{
    /// <summary>Deployments were queued that the announcing node does not run itself (no free slot, drained, its per-repository limit): dispatchers with a free slot claim.</summary>
    public const string DeploymentQueued = "queued";

    /// <summary>A deployment ended (subject: its id, or empty when several may have): live log viewers end; the dispatcher of the node that announced it claims (an environment or a slot is free), and announces <see cref="DeploymentQueued"/> for what it leaves.</summary>
    public const string DeploymentFinished = "finished";

    /// <summary>A cancel was requested for a running deployment (subject: its id): the node running it stops it.</summary>
    public const string CancelRequested = "cancel";

    /// <summary>Lines of a deployment's log were stored (subject: its id): viewers on other nodes read them.</summary>
    public const string LogWritten = "log";

    /// <summary>Outbox work was recorded (subject: its kind): that kind's consumers look.</summary>
    public const string WorkRecorded = "work";

    /// <summary>An environment was locked or unlocked: dispatchers look again.</summary>
    public const string LocksChanged = "locks";

    /// <summary>A node or every node was drained or resumed: dispatchers look again.</summary>
    public const string DrainsChanged = "drains";

    /// <summary>The subject of the announcements about one deployment.</summary>
    public static string Subject(long deploymentId) => deploymentId.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
