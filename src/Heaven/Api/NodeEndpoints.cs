using Heaven.Access;
using Heaven.Deployments;

namespace Heaven.Api;

/// <summary>A node as the API lists it; <see cref="State"/> is running, draining, stopping, stopped or gone.</summary>
public sealed record NodeApiView(
    string Id,
    string RunId,
    string HostName,
    string Version,
    string State,
    DateTimeOffset StartedAt,
    DateTimeOffset LastHeartbeatAt,
    int LeaseSeconds,
    int RunningDeployments,
    bool Draining,
    string? DrainedBy,
    DateTimeOffset? DrainedAt,
    DateTimeOffset? StoppingAt,
    DateTimeOffset? StoppedAt);

/// <summary><c>GET /api/v1/nodes</c>: the Heaven nodes sharing the database (scope <c>read</c>).</summary>
internal static class NodeEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/nodes", ListAsync)
            .RequireAuthorization(AccessPolicies.Read)
            .WithName("ListNodes")
            .WithSummary("The Heaven nodes sharing the database: version, heartbeat, running deployments, drained, stopping, stopped or gone (no heartbeat for longer than its lease).")
            .Produces<IReadOnlyList<NodeApiView>>()
            .ProducesProblems();
    }

    private static async Task<IResult> ListAsync(NodeMembership nodes, CancellationToken cancellationToken) =>
        Results.Ok((await nodes.ListAsync(cancellationToken)).Select(View).ToList());

    internal static NodeApiView View(NodeView node) => new(
        node.Id,
        node.RunId,
        node.HostName,
        node.Version,
        node.State.ToString().ToLowerInvariant(),
        node.StartedAt,
        node.LastHeartbeatAt,
        node.LeaseSeconds,
        node.RunningDeployments,
        node.Drain is not null,
        node.Drain?.RequestedBy,
        node.Drain is { } drain ? new DateTimeOffset(DateTime.SpecifyKind(drain.RequestedAt, DateTimeKind.Utc)) : null,
        node.StoppingAt,
        node.StoppedAt);
}
