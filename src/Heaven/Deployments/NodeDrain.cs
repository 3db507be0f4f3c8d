namespace Heaven.Deployments;

/// <summary>
/// A standing request that a node (or every node) claims no new deployments, made with
/// <c>heaven drain</c> and lifted with <c>heaven resume</c>. Kept in the database so the command, a
/// separate process, reaches the running server, and every node sharing the database sees it.
/// </summary>
public sealed class NodeDrain
{
    /// <summary>The <see cref="Heaven.Configuration.NodeIdentity"/> drained, or <see cref="AllNodes"/>.</summary>
    public const string AllNodes = "*";

    public required string Node { get; set; }

    public required string RequestedBy { get; set; }

    public DateTime RequestedAt { get; set; }

    public bool IsForAllNodes => Node == AllNodes;
}
