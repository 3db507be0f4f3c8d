using Heaven.Deployments;
using Heaven.Model;
using Heaven.Storage;

namespace Heaven.Cli;

/// <summary><c>heaven cancel &lt;id|gh:ID&gt; [--by NAME]</c>: stops a deployment, wherever it runs.</summary>
internal static class CancelCommand
{
    public static readonly CliCommand Command = new(
        "cancel",
        "heaven cancel <id|gh:ID> [--by NAME]",
        "cancel a queued or running deployment",
        "A queued deployment is cancelled at once; a running one is stopped by the node running it within two seconds. Exit code 1 when it has already finished or does not exist.",
        RunAsync)
    {
        Arguments = [new CliArgument("<id|gh:ID>", DeploymentReference.Help)],
        Options = [CliOption.Text("--by", "NAME", "who cancels, as GitHub's status will say (default: your user name)")],
    };

    private static async Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var (output, error) = (terminal.Output, terminal.Error);
        var reference = DeploymentReference.Parse(arguments.Positionals[0]);
        var by = arguments.Text("--by") ?? Environment.UserName;
        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        long id;
        await using (var db = await app.Services.GetRequiredService<IHeavenDatabase>().OpenAsync(cancellationToken))
        {
            var (deployment, problem) = await reference.FindAsync(db, cancellationToken);
            if (deployment is null)
            {
                error.WriteLine(problem);
                return 1;
            }

            id = deployment.Id;
        }

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
