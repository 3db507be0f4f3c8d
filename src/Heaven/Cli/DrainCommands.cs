using System.Globalization;
using Heaven.Deployments;

namespace Heaven.Cli;

/// <summary>
/// <c>heaven drain</c> and <c>heaven resume</c>: planned maintenance without stopping the server. A
/// drained node keeps answering webhooks and finishes what runs, but starts no new deployment; the
/// request is kept in the database, so the running server (and, with <c>--all</c>, every node sharing
/// the database) follows it within two seconds.
/// </summary>
internal static class DrainCommand
{
    public static readonly CliCommand Command = new(
        "drain",
        "heaven drain [--all] [--by NAME]",
        "stop starting new deployments on this node (or every node) without stopping the server",
        "Webhooks are still recorded: new deployments wait in the queue (or run on another node) until 'heaven resume'. " +
        "Running deploys finish. /healthz says \"draining\": true and still answers 200. This node is the one whose data directory the command is given.",
        RunAsync)
    {
        Options =
        [
            CliOption.Flag("--all", "drain every node sharing the database"),
            CliOption.Text("--by", "NAME", "who drains, as logs and /healthz will say (default: your user name)"),
        ],
    };

    private static async Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var all = arguments.Has("--all");
        var by = arguments.Text("--by") ?? Environment.UserName;
        if (string.IsNullOrWhiteSpace(by) || by.Length > 256)
        {
            throw new UsageException("--by must be a name of 1 to 256 characters.");
        }

        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var drains = app.Services.GetRequiredService<NodeDrains>();
        var drain = await drains.DrainAsync(all, by, cancellationToken);
        var output = terminal.Output;
        var scope = all ? "Every node" : $"This node ({drains.NodeId})";
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{scope} is drained (by {drain.RequestedBy} at {drain.RequestedAt:yyyy-MM-dd HH:mm:ss}Z): it starts no new deployment within two seconds."));
        output.WriteLine("Running deploys finish; webhooks are still recorded, and new deployments wait in the queue" + (all ? "" : " or run on another node") + ".");
        output.WriteLine($"Lift it with 'heaven resume{(all ? " --all" : "")}'.");
        return 0;
    }
}

/// <summary><c>heaven resume</c>: lifts <c>heaven drain</c>.</summary>
internal static class ResumeCommand
{
    public static readonly CliCommand Command = new(
        "resume",
        "heaven resume [--all]",
        "let this node (or every node) start deployments again after 'heaven drain'",
        "The queued deployments start within two seconds. Without --all it lifts only this node's own drain; --all lifts every drain of every node. " +
        "Exit code 1 when there was nothing to lift.",
        RunAsync)
    {
        Options = [CliOption.Flag("--all", "lift every drain, of every node sharing the database")],
    };

    private static async Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var all = arguments.Has("--all");
        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var drains = app.Services.GetRequiredService<NodeDrains>();
        var lifted = await drains.ResumeAsync(all, cancellationToken);
        var stillDrained = all ? null : await drains.ForThisNodeAsync(cancellationToken);
        var (output, error) = (terminal.Output, terminal.Error);
        if (lifted.Count == 0)
        {
            error.WriteLine(stillDrained is not null
                ? "This node has no drain of its own to lift: every node is drained ('heaven drain --all'); lift that with 'heaven resume --all'."
                : all ? "No node was drained." : $"This node ({drains.NodeId}) was not drained.");
            return 1;
        }

        output.WriteLine(all
            ? string.Create(CultureInfo.InvariantCulture, $"Lifted {lifted.Count} drain{(lifted.Count == 1 ? "" : "s")}: every node starts deployments again within two seconds.")
            : $"This node ({drains.NodeId}) starts deployments again within two seconds.");
        if (stillDrained is not null)
        {
            output.WriteLine("But every node is still drained ('heaven drain --all'): lift that with 'heaven resume --all'.");
        }

        return 0;
    }
}
