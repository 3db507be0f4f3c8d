using System.Globalization;
using Heaven.Locks;
using Heaven.Operations;

namespace Heaven.Cli;

/// <summary><c>heaven locks</c>: every environment lock, who holds it, why, and until when.</summary>
internal static class LocksCommand
{
    public static readonly CliCommand Command = new(
        "locks",
        "heaven locks",
        "list the environment locks",
        "Who locked which environment, when, until when (expired locks block nothing and say so), and why.",
        RunAsync);

    private static async Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var output = terminal.Output;
        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var locks = await app.Services.GetRequiredService<ActivityQueries>().LocksAsync(cancellationToken);
        if (locks.Count == 0)
        {
            output.WriteLine("No environment is locked.");
            return 0;
        }

        var table = new TableWriter("REPOSITORY", "ENVIRONMENT", "LOCKED BY", "LOCKED AT (UTC)", "UNTIL (UTC)", "REASON");
        foreach (var held in locks)
        {
            var until = held.ExpiresAt switch
            {
                null => "unlocked",
                { } expires when !held.Active => string.Create(CultureInfo.InvariantCulture, $"{expires:yyyy-MM-dd HH:mm} (expired, blocks nothing)"),
                { } expires => string.Create(CultureInfo.InvariantCulture, $"{expires:yyyy-MM-dd HH:mm}"),
            };
            table.Add(
                held.Repository,
                held.Environment,
                held.LockedBy,
                held.LockedAt.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture),
                until,
                string.IsNullOrWhiteSpace(held.Reason) ? "-" : held.Reason);
        }

        table.WriteTo(output);
        return 0;
    }
}

/// <summary><c>heaven lock &lt;owner/repo&gt; &lt;environment&gt; --reason TEXT</c>: locks an environment without a deployment.</summary>
internal static class LockCommand
{
    public static readonly CliCommand Command = new(
        "lock",
        "heaven lock <owner/repo> <environment> --reason TEXT [--expires-in MINUTES] [--by NAME]",
        "lock an environment, as 'deploy:lock' in chat does",
        "Deployments to it are then refused with the reason until it is unlocked or the lock expires. Someone else's lock stays (exit code 1); your own is renewed.",
        RunAsync)
    {
        Arguments = [new CliArgument("<owner/repo>", "the repository"), new CliArgument("<environment>", "the environment, as deployments name it")],
        Options =
        [
            CliOption.Text("--reason", "TEXT", "why (required): shown to whoever's deployment the lock refuses"),
            CliOption.Number("--expires-in", "MINUTES", "unlock by itself after this long (default Locks:DefaultTtl, or never)"),
            CliOption.Text("--by", "NAME", "who locks (default: your user name)"),
        ],
    };

    private static async Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var (output, error) = (terminal.Output, terminal.Error);
        var (repository, environment) = UnlockCommand.Target(arguments);
        var reason = arguments.Text("--reason");
        if (string.IsNullOrWhiteSpace(reason))
        {
            throw new UsageException("--reason is required: say why, for whoever's deployment the lock refuses.");
        }

        var by = arguments.Text("--by") ?? Environment.UserName;
        TimeSpan? expiresIn = arguments.Has("--expires-in") ? TimeSpan.FromMinutes(arguments.Number("--expires-in", 0)) : null;
        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var locks = app.Services.GetRequiredService<EnvironmentLocks>();
        var now = app.Services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        var outcome = await locks.LockAsync(repository, environment, by, reason, now + expiresIn, cancellationToken);
        if (!outcome.Succeeded)
        {
            error.WriteLine($"{outcome.Description}.");
            return 1;
        }

        var held = await locks.ActiveAsync(repository, environment, cancellationToken);
        var until = held?.ExpiresAt is { } expires
            ? string.Create(CultureInfo.InvariantCulture, $"until {expires:yyyy-MM-dd HH:mm}Z")
            : "until unlocked ('heaven unlock')";
        output.WriteLine($"{outcome.Description}, {until}: {reason}");
        return 0;
    }
}

/// <summary><c>heaven unlock &lt;owner/repo&gt; &lt;environment&gt;</c>: removes a lock without a deployment.</summary>
internal static class UnlockCommand
{
    public static readonly CliCommand Command = new(
        "unlock",
        "heaven unlock <owner/repo> <environment>",
        "remove an environment lock",
        "Anyone may unlock, as in chat: a lock is a note to colleagues, not a permission. Exit code 1 when it was not locked.",
        RunAsync)
    {
        Arguments = [new CliArgument("<owner/repo>", "the repository"), new CliArgument("<environment>", "the environment")],
    };

    /// <summary>The repository and environment a lock command names.</summary>
    internal static (string Repository, string Environment) Target(ParsedArguments arguments)
    {
        var repository = arguments.Positionals[0];
        if (repository.Split('/') is not [{ Length: > 0 }, { Length: > 0 }])
        {
            throw new UsageException($"'{repository}' is not a repository: write it owner/repo.");
        }

        return (repository, arguments.Positionals[1]);
    }

    private static async Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var (output, error) = (terminal.Output, terminal.Error);
        var (repository, environment) = Target(arguments);
        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var result = await app.Services.GetRequiredService<DeploymentActions>().UnlockAsync(repository, environment, Environment.UserName, cancellationToken);
        (result.Succeeded ? output : error).WriteLine(result.Message);
        return result.Succeeded ? 0 : 1;
    }
}
