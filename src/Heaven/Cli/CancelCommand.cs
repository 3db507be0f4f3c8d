using System.Globalization;
using Heaven.Deployments;
using Heaven.Model;

namespace Heaven.Cli;

/// <summary><c>heaven cancel &lt;id&gt; [--by NAME]</c>: stops a deployment, wherever it runs.</summary>
internal static class CancelCommand
{
    public static async Task<int> RunAsync(string[] args, Terminal terminal, CancellationToken cancellationToken)
    {
        var (output, error) = (terminal.Output, terminal.Error);
        if (args.Length == 0 || !long.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            error.WriteLine("Usage: heaven cancel <deployment id> [--by NAME]");
            return 2;
        }

        var by = Environment.UserName;
        var settings = new List<string>();
        for (var i = 1; i < args.Length; i++)
        {
            if (args[i] == "--by" && i + 1 < args.Length)
            {
                by = args[++i];
            }
            else
            {
                settings.Add(args[i]);
            }
        }

        var app = await terminal.PrepareAsync(settings, cancellationToken);
        var queue = app.Services.GetRequiredService<DeploymentQueue>();
        switch (await queue.RequestCancelAsync(id, by, cancellationToken))
        {
            case CancelOutcome.Cancelled:
                output.WriteLine($"Deployment {id} had not started; it is cancelled (GitHub will show: error \"{StatusTexts.CancelledBy(by)}\").");
                return 0;
            case CancelOutcome.Requested:
                output.WriteLine($"Deployment {id} is running; the Heaven node running it stops it within two seconds and reports \"{StatusTexts.CancelledBy(by)}\".");
                return 0;
            case CancelOutcome.AlreadyFinished:
                error.WriteLine($"Deployment {id} has already finished; there is nothing to cancel.");
                return 1;
            default:
                error.WriteLine($"There is no deployment {id}.");
                return 1;
        }
    }
}
