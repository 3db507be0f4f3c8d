using System.Globalization;
using Heaven.Operations;
using Heaven.Storage;

namespace Heaven.Cli;

/// <summary><c>heaven deployments</c>, <c>heaven redeploy</c>, <c>heaven rollback</c>: what the API's deployment endpoints do, on the terminal.</summary>
internal static class DeploymentCommands
{
    public static readonly CliCommand List = new(
        "deployments",
        "heaven deployments [--repository OWNER/REPO] [--environment ENV] [--state STATE] [--limit N]",
        "list deployments, newest first",
        $"STATE is one of {string.Join(", ", DeploymentStates.All)}. Times are UTC.",
        ListAsync)
    {
        Options =
        [
            CliOption.Text("--repository", "OWNER/REPO", "only this repository"),
            CliOption.Text("--environment", "ENV", "only this environment"),
            CliOption.Text("--state", "STATE", "only deployments in this state"),
            CliOption.Number("--limit", "N", $"how many (default {DeploymentFilter.DefaultLimit}, at most {DeploymentFilter.MaxLimit})"),
        ],
    };

    public static readonly CliCommand Redeploy = new(
        "redeploy",
        "heaven redeploy <id|gh:ID> [--by NAME]",
        "deploy a deployment's commit again, through a new GitHub deployment",
        "Same commit, environment, task and payload; Heaven runs it when GitHub's deployment webhook arrives. Exit code 1 when there is no such deployment or GitHub refuses.",
        RedeployAsync)
    {
        Arguments = [new CliArgument("<id|gh:ID>", DeploymentReference.Help)],
        Options = [CliOption.Text("--by", "NAME", "who redeploys, as GitHub and the chat will say (default: your user name)")],
    };

    public static readonly CliCommand Rollback = new(
        "rollback",
        "heaven rollback <owner/repo> <environment> [--by NAME]",
        "deploy the commit of the last successful deployment before the current one",
        "Creates a GitHub deployment described \"Rollback to <short sha>\"; exit code 1 when there is nothing to roll back to or GitHub refuses.",
        RollbackAsync)
    {
        Arguments = [new CliArgument("<owner/repo>", "the repository"), new CliArgument("<environment>", "the environment")],
        Options = [CliOption.Text("--by", "NAME", "who rolls back (default: your user name)")],
    };

    private static async Task<int> ListAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var limit = arguments.Number("--limit", DeploymentFilter.DefaultLimit);
        var state = arguments.Text("--state");
        if (limit > DeploymentFilter.MaxLimit)
        {
            throw new UsageException($"--limit is at most {DeploymentFilter.MaxLimit}.");
        }

        if (state is not null && DeploymentStates.Parse(state) is null)
        {
            throw new UsageException($"'{state}' is not a state; one of {string.Join(", ", DeploymentStates.All)}.");
        }

        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var filter = new DeploymentFilter { Repository = arguments.Text("--repository"), Environment = arguments.Text("--environment"), State = state, Limit = limit };
        var rows = await app.Services.GetRequiredService<DeploymentQueries>().ListAsync(filter, cancellationToken);
        if (rows.Count == 0)
        {
            terminal.Output.WriteLine("No deployments.");
            return 0;
        }

        var table = new TableWriter("ID", "GITHUB", "REPOSITORY", "ENVIRONMENT", "SHA", "STATE", "CREATED (UTC)", "BY", "DESCRIPTION");
        foreach (var d in rows)
        {
            table.Add(
                d.Id.ToString(CultureInfo.InvariantCulture),
                "gh:" + d.GitHubDeploymentId.ToString(CultureInfo.InvariantCulture),
                d.Repository,
                d.Environment,
                d.ShortSha,
                d.State,
                d.CreatedAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                d.Creator ?? "",
                d.Description ?? "");
        }

        table.WriteTo(terminal.Output);
        return 0;
    }

    private static async Task<int> RedeployAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var reference = DeploymentReference.Parse(arguments.Positionals[0]);
        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        long id;
        await using (var db = await app.Services.GetRequiredService<IHeavenDatabase>().OpenAsync(cancellationToken))
        {
            var (deployment, problem) = await reference.FindAsync(db, cancellationToken);
            if (deployment is null)
            {
                terminal.Error.WriteLine(problem);
                return 1;
            }

            id = deployment.Id;
        }

        var result = await app.Services.GetRequiredService<DeploymentActions>().RedeployAsync(id, arguments.Text("--by") ?? Environment.UserName, cancellationToken);
        return Report(terminal, result);
    }

    private static async Task<int> RollbackAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var repository = arguments.Positionals[0];
        if (repository.Split('/') is not [{ Length: > 0 }, { Length: > 0 }])
        {
            throw new UsageException($"'{repository}' is not a repository: write it owner/repo.");
        }

        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var result = await app.Services.GetRequiredService<DeploymentActions>().RollbackAsync(repository, arguments.Positionals[1], arguments.Text("--by") ?? Environment.UserName, cancellationToken);
        return Report(terminal, result);
    }

    private static int Report(Terminal terminal, ActionResult result)
    {
        (result.Succeeded ? terminal.Output : terminal.Error).WriteLine(result.Message);
        return result.Succeeded ? 0 : 1;
    }
}
