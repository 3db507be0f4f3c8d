using Heaven.Operations;
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
        var id = reference.Id;
        if (reference.IsGitHubId)
        {
            await using var db = await app.Services.GetRequiredService<IHeavenDatabase>().OpenAsync(cancellationToken);
            var (deployment, problem) = await reference.FindAsync(db, cancellationToken);
            if (deployment is null)
            {
                error.WriteLine(problem);
                return 1;
            }

            id = deployment.Id;
        }

        var result = await app.Services.GetRequiredService<DeploymentActions>().CancelAsync(id, by, cancellationToken);
        (result.Succeeded ? output : error).WriteLine(result.Message);
        return result.Succeeded ? 0 : 1;
    }
}
