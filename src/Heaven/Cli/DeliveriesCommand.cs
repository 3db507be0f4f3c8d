using Heaven.Operations;

namespace Heaven.Cli;

/// <summary><c>heaven deliveries</c>: the delivery log, newest first, for an operator asking "did GitHub reach us?".</summary>
internal static class DeliveriesCommand
{
    public static async Task<int> RunAsync(string[] args, Terminal terminal, CancellationToken cancellationToken)
    {
        var output = terminal.Output;
        var arguments = ListArguments.Parse(args, defaultLimit: 20);
        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var rows = await app.Services.GetRequiredService<ActivityQueries>().DeliveriesAsync(Math.Min(arguments.Limit, ActivityQueries.MaxLimit), cancellationToken);
        if (rows.Count == 0)
        {
            output.WriteLine("No deliveries yet. Point a GitHub webhook at POST /events (see 'heaven serve' output).");
            return 0;
        }

        output.WriteLine($"{"RECEIVED (UTC)",-20} {"EVENT",-18} {"RESULT",-9} {"REPOSITORY",-30} {"DELIVERY",-36} MESSAGE");
        foreach (var row in rows)
        {
            output.WriteLine($"{row.ReceivedAt:yyyy-MM-dd HH:mm:ss} {row.Event,-18} {row.Result,-9} {row.Repository ?? "-",-30} {row.DeliveryId,-36} {row.Message}");
        }

        return 0;
    }
}
