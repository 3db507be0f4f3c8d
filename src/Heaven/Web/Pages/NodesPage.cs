using Heaven.Deployments;

namespace Heaven.Web.Pages;

/// <summary>
/// <c>/nodes</c>: the Heaven nodes sharing the database, as their heartbeats left them (the same list as
/// <c>heaven nodes</c> and <c>GET /api/v1/nodes</c>). Any signed-in user may read it: it names hosts and
/// versions, nothing of a repository.
/// </summary>
internal static class NodesPage
{
    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/nodes", async (HttpContext context, NodeMembership membership) =>
        {
            var kit = AdminPages.Kit(context);
            var nodes = await membership.ListAsync(kit.Aborted);
            return kit.Page("Nodes", PageSection.Nodes, Render(nodes, kit.Now));
        });

    /// <summary>"1.4.0+be0807e7655f…" as "1.4.0+be0807e": the commit a build carries, shortened as git does; the whole on hover.</summary>
    internal static string ShortVersion(string version) =>
        version.IndexOf('+', StringComparison.Ordinal) is var plus and >= 0 && version.Length - plus - 1 > 7 ? version[..(plus + 8)] : version;

    private static Html Render(IReadOnlyList<NodeView> nodes, DateTimeOffset now)
    {
        var explanation = Html.Of($"""
            <p class="filter">Each node renews its heartbeat every third of its lease (<code>Deployments:LeaseSeconds</code>). A node without one for longer than its lease is <strong>gone</strong>: its running deployments are reported lost. Gone and stopped nodes are listed for {(int)NodeMembership.KeptFor.TotalDays} days.</p>
            """);
        if (nodes.Count == 0)
        {
            return Html.Of($"{explanation}<p class=\"empty\">No node has recorded itself yet.</p>");
        }

        var rows = nodes.Select(node =>
        {
            var state = node.State.ToString().ToLowerInvariant();
            var drained = node.Drain is { } drain
                ? Html.Of($"{drain.RequestedBy}{(drain.IsForAllNodes ? " (all nodes)" : "")} {RelativeTime.Tag(new DateTimeOffset(DateTime.SpecifyKind(drain.RequestedAt, DateTimeKind.Utc)), now)}")
                : Html.Text("—");
            var self = node.ThisNode ? Html.Of($" <span class=\"badge\">this node</span>") : Html.Empty;
            return Html.Of($"""
                <tr class="node-{state}">
                <td class="node-id">{node.Id}{self}</td>
                <td class="node-host">{node.HostName}</td>
                <td class="node-version" title="{node.Version}">{ShortVersion(node.Version)}</td>
                <td class="node-state"><span class="badge node-state-{state}">{state}</span></td>
                <td class="node-started">{RelativeTime.Tag(node.StartedAt, now)}</td>
                <td class="node-heartbeat">{RelativeTime.Tag(node.LastHeartbeatAt, now)}</td>
                <td class="node-running">{node.RunningDeployments}</td>
                <td class="node-drained">{drained}</td>
                </tr>
                """);
        });
        return Html.Of($"""
            {explanation}
            <div class="table-scroll">
            <table class="nodes">
            <thead><tr><th scope="col">Node</th><th scope="col">Host</th><th scope="col">Version</th><th scope="col">State</th><th scope="col">Started</th><th scope="col">Last heartbeat</th><th scope="col">Running</th><th scope="col">Drained by</th></tr></thead>
            <tbody>
            {rows}
            </tbody>
            </table>
            </div>
            """);
    }
}
