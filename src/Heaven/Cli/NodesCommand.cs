using System.Globalization;
using Heaven.Deployments;

namespace Heaven.Cli;

/// <summary><c>heaven nodes</c>: the Heaven nodes sharing the database, as their heartbeats left them.</summary>
internal static class NodesCommand
{
    public static readonly CliCommand Command = new(
        "nodes",
        "heaven nodes",
        "list the Heaven nodes sharing the database: version, heartbeat, running deploys, drained, stopping, gone",
        "Every running node records itself and renews its heartbeat every third of Deployments:LeaseSeconds. " +
        "A node without a heartbeat for longer than its lease is 'gone' (killed, hung or cut off): its running deployments are reported lost by the other nodes. " +
        "A node that stopped cleanly is 'stopped'. Gone and stopped nodes are listed for 7 days after their last heartbeat. The node of this data directory is marked with '*'.",
        RunAsync);

    private static async Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var output = terminal.Output;
        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var nodes = await app.Services.GetRequiredService<NodeMembership>().ListAsync(cancellationToken);
        if (nodes.Count == 0)
        {
            output.WriteLine("No node has recorded itself yet: nodes appear here once 'heaven serve' runs against this database.");
            return 0;
        }

        var now = app.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var table = new TableWriter("NODE", "HOST", "VERSION", "STATE", "STARTED (UTC)", "LAST HEARTBEAT", "RUNNING", "DRAINED BY");
        foreach (var node in nodes)
        {
            table.Add(
                (node.ThisNode ? "* " : "") + node.Id,
                node.HostName,
                node.Version,
                Name(node.State),
                node.StartedAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                Ago(node.LastHeartbeatAt, now),
                node.RunningDeployments.ToString(CultureInfo.InvariantCulture),
                node.Drain is { } drain ? $"{drain.RequestedBy}{(drain.IsForAllNodes ? " (all nodes)" : "")}" : "-");
        }

        table.WriteTo(output);
        return 0;
    }

    /// <summary>The state as the CLI, the page and the API name it.</summary>
    internal static string Name(NodeState state) => state.ToString().ToLowerInvariant();

    private static string Ago(DateTimeOffset at, DateTimeOffset now)
    {
        var seconds = Math.Max(0, (long)(now - at).TotalSeconds);
        var ago = seconds switch
        {
            < 120 => $"{seconds} s ago",
            < 7200 => $"{seconds / 60} min ago",
            < 172_800 => $"{seconds / 3600} h ago",
            _ => $"{seconds / 86_400} days ago",
        };
        return string.Create(CultureInfo.InvariantCulture, $"{at:yyyy-MM-dd HH:mm:ss} ({ago})");
    }
}
