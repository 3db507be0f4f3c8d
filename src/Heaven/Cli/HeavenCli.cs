using Heaven.Configuration;

namespace Heaven.Cli;

/// <summary>
/// The <c>heaven</c> executable: with no command (or <c>serve</c>) it runs the server; operator
/// commands share the same configuration and database.
/// </summary>
internal static class HeavenCli
{
    private static readonly (string Name, string Usage, string Summary)[] Commands =
    [
        ("serve", "heaven [serve] [--urls URL] [--Key=Value ...]", "run the server (the default when no command is given)"),
        ("deliveries", "heaven deliveries [--limit N]", "show the newest webhook deliveries and what Heaven did with them"),
        ("outbox", "heaven outbox [--problems] [--limit N]", "show what Heaven owes GitHub and the chat services: statuses, messages, commit events, with attempts and errors"),
        ("cancel", "heaven cancel <id> [--by NAME]", "cancel a queued or running deployment"),
        ("locks", "heaven locks", "list the environment locks"),
        ("unlock", "heaven unlock <owner/repo> <environment>", "remove an environment lock"),
        ("rotate-log-links", "heaven rotate-log-links", "replace the key that signs log links: every link issued before stops working"),
        ("autodeploy-log", "heaven autodeploy-log <owner/repo> [--limit N]", "show what auto-deploy decided for a repository's commits, and why"),
        ("tokens", "heaven tokens create NAME --scope S | list | revoke NAME", "manage API tokens (scope read, deploy or admin; --expires-in-days N)"),
        ("deploy-local", "heaven deploy-local <path> --environment ENV [...]", "try a deploy from a local repository, without GitHub"),
        ("help", "heaven --help", "show this help"),
    ];

    /// <summary>Operator commands print their own words; Heaven's log speaks up only for warnings.</summary>
    internal static readonly string[] QuietLogging = ["--Logging:LogLevel:Default=Warning"];

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        var command = args.Length == 0 || args[0].StartsWith('-') ? "serve" : args[0];
        var rest = args.Length > 0 && !args[0].StartsWith('-') ? args[1..] : args;
        // Everything a command prints goes through the terminal's masking writers.
        using var terminal = new Terminal(output, error);
        if (args.Any(a => a is "--help" or "-h" or "-?") || command == "help")
        {
            WriteHelp(terminal.Output);
            return 0;
        }

        try
        {
            return command switch
            {
                "serve" => await ServeCommand.RunAsync(rest, terminal, cancellationToken),
                "deliveries" => await DeliveriesCommand.RunAsync(rest, terminal, cancellationToken),
                "outbox" => await OutboxCommand.RunAsync(rest, terminal, cancellationToken),
                "cancel" => await CancelCommand.RunAsync(rest, terminal, cancellationToken),
                "locks" => await LocksCommand.RunAsync(rest, terminal, cancellationToken),
                "unlock" => await UnlockCommand.RunAsync(rest, terminal, cancellationToken),
                "rotate-log-links" => await RotateLogLinksCommand.RunAsync(rest, terminal, cancellationToken),
                "autodeploy-log" => await AutoDeployLogCommand.RunAsync(rest, terminal, cancellationToken),
                "tokens" => await TokensCommand.RunAsync(rest, terminal, cancellationToken),
                "deploy-local" => await DeployLocalCommand.RunAsync(rest, terminal, cancellationToken),
                _ => Unknown(command, terminal.Error),
            };
        }
        catch (StartupException e)
        {
            terminal.Error.WriteLine(e.Message);
            return 2;
        }
    }

    private static int Unknown(string command, TextWriter error)
    {
        error.WriteLine($"heaven: '{command}' is not a command. Run 'heaven --help' for the list.");
        return 2;
    }

    private static void WriteHelp(TextWriter output)
    {
        output.WriteLine("Heaven: a deployment server for the GitHub Deployments API.");
        output.WriteLine();
        output.WriteLine("Usage:");
        foreach (var (_, usage, summary) in Commands)
        {
            output.WriteLine($"  {usage,-52} {summary}");
        }

        output.WriteLine();
        output.WriteLine("Settings come from appsettings.json, then environment variables (GitHub__Token, or the original");
        output.WriteLine("Heaven's names such as GITHUB_TOKEN), then --Key=Value arguments. See README.md for the full list.");
    }
}
