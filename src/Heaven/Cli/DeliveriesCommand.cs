using System.Globalization;
using Heaven.Operations;

namespace Heaven.Cli;

/// <summary><c>heaven deliveries</c>: the delivery log, newest first, for an operator asking "did GitHub reach us?".</summary>
internal static class DeliveriesCommand
{
    public static readonly CliCommand Command = new(
        "deliveries",
        "heaven deliveries [--limit N]",
        "show the newest webhook deliveries and what Heaven did with them",
        "Newest first: when each arrived, the event, the result (accepted, ignored, duplicate, rejected), the repository and Heaven's answer.",
        RunAsync)
    {
        Options = [CliOption.Number("--limit", "N", "how many deliveries (default 20)")],
    };

    private static async Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var output = terminal.Output;
        var limit = arguments.Limit(20);
        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var rows = await app.Services.GetRequiredService<ActivityQueries>().DeliveriesAsync(limit, cancellationToken);
        if (rows.Count == 0)
        {
            output.WriteLine("No deliveries yet. Point a GitHub webhook at POST /events (see 'heaven serve' output).");
            return 0;
        }

        var table = new TableWriter("RECEIVED (UTC)", "EVENT", "RESULT", "REPOSITORY", "DELIVERY", "MESSAGE");
        foreach (var row in rows)
        {
            table.Add(
                row.ReceivedAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                row.Event,
                row.Result,
                row.Repository ?? "-",
                row.DeliveryId,
                row.Message);
        }

        table.WriteTo(output);
        return 0;
    }
}
