using Heaven.Model;
using Heaven.Output;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Cli;

/// <summary>
/// <c>heaven log &lt;id|gh:ID&gt; [--follow]</c>: a deployment's stored log, masked, as the log page shows
/// it. <c>--follow</c> reads the database until the deployment finishes: the command is a process of
/// its own, often on another node than the deploy, and the database is what every node shares.
/// </summary>
internal static class LogCommand
{
    /// <summary>How often <c>--follow</c> looks for new lines: quick enough to read along, light on the database.</summary>
    internal static readonly TimeSpan FollowInterval = TimeSpan.FromMilliseconds(250);

    public static readonly CliCommand Command = new(
        "log",
        "heaven log <id|gh:ID> [--follow]",
        "print a deployment's log",
        "Secrets are masked as on the log page. With --follow it prints new lines as they come until the deployment finishes, then exits 0 if it succeeded and 1 otherwise.",
        RunAsync)
    {
        Arguments = [new CliArgument("<id|gh:ID>", DeploymentReference.Help)],
        Options = [CliOption.Flag("--follow", "keep printing new lines until the deployment finishes")],
    };

    private static async Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var (output, error) = (terminal.Output, terminal.Error);
        var reference = DeploymentReference.Parse(arguments.Positionals[0]);
        var follow = arguments.Has("--follow");
        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var database = app.Services.GetRequiredService<IHeavenDatabase>();
        var reader = app.Services.GetRequiredService<DeploymentLogReader>();
        var time = app.Services.GetRequiredService<TimeProvider>();
        DeploymentRecord? deployment;
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            (deployment, var problem) = await reference.FindAsync(db, cancellationToken);
            if (deployment is null)
            {
                error.WriteLine(problem);
                return 1;
            }
        }

        var id = deployment.Id;
        var next = 0L;
        while (true)
        {
            // The state is read before the lines: once it says finished, the lines read after it are all there are.
            var state = follow ? await StateAsync(database, id, cancellationToken) : deployment.State;
            await foreach (var line in reader.ReadAsync(id, next, cancellationToken))
            {
                output.WriteLine(line.Stream == OutputStream.Heaven ? $"--> {line.Text}" : line.Text);
                next = line.Number + 1;
            }

            output.Flush();
            if (!follow)
            {
                if (next == 0)
                {
                    error.WriteLine($"Deployment {id} has no output {(IsFinished(state) ? "stored" : "yet")} ({Describe(state)}).");
                }

                return 0;
            }

            if (IsFinished(state))
            {
                error.WriteLine($"Deployment {id} {Describe(state)}.");
                return state == DeploymentState.Succeeded ? 0 : 1;
            }

            await Task.Delay(FollowInterval, time, cancellationToken);
        }
    }

    private static async Task<DeploymentState> StateAsync(IHeavenDatabase database, long id, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        return await db.Deployments.AsNoTracking().Where(d => d.Id == id).Select(d => d.State).SingleAsync(cancellationToken);
    }

    private static bool IsFinished(DeploymentState state) => state is not (DeploymentState.Queued or DeploymentState.Running);

    private static string Describe(DeploymentState state) => state switch
    {
        DeploymentState.Queued => "is queued",
        DeploymentState.Running => "is running",
        DeploymentState.Succeeded => "succeeded",
        DeploymentState.Failed => "failed",
        DeploymentState.Errored => "ended in an error",
        DeploymentState.Cancelled => "was cancelled",
        DeploymentState.Rejected => "was rejected",
        _ => "was ignored (another deployment system may own it)",
    };
}
