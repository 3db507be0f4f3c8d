using System.Globalization;
using Heaven.Operations;

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
        var result = await app.Services.GetRequiredService<DeploymentActions>().CancelAsync(id, by, cancellationToken);
        (result.Succeeded ? output : error).WriteLine(result.Message);
        return result.Succeeded ? 0 : 1;
    }
}
