using Heaven.Configuration;

namespace Heaven.Cli;

/// <summary>
/// The <c>heaven</c> executable: with no command (or <c>serve</c>) it runs the server; operator
/// commands share the same configuration and database. Every command's arguments are read by
/// <see cref="CommandLine"/> against what the command declares: a mistyped option is an error, never ignored.
/// </summary>
internal static class HeavenCli
{
    /// <summary>The commands, in the order <c>heaven --help</c> lists them.</summary>
    private static readonly CliCommand[] Commands =
    [
        ServeCommand.Command,
        DeliveriesCommand.Command,
        OutboxCommand.Command,
        LogCommand.Command,
        DeploymentCommands.List,
        DeploymentCommands.Redeploy,
        DeploymentCommands.Rollback,
        CancelCommand.Command,
        LocksCommand.Command,
        LockCommand.Command,
        UnlockCommand.Command,
        DrainCommand.Command,
        ResumeCommand.Command,
        NodesCommand.Command,
        RotateLogLinksCommand.Command,
        AutoDeployLogCommand.Command,
        TokensCommand.Command,
        DoctorCommand.Command,
        DeployLocalCommand.Command,
        VersionCommand.Command,
    ];

    /// <summary>Operator commands print their own words; Heaven's log speaks up only for warnings.</summary>
    internal static readonly string[] QuietLogging = ["--Logging:LogLevel:Default=Warning"];

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        // Everything a command prints goes through the terminal's masking writers.
        using var terminal = new Terminal(output, error);
        var first = args.Length == 0 ? null : args[0];
        if (first is "--help" or "-h" or "-?" or "help")
        {
            if (args.Length > 1 && Find(args[1]) is { } described)
            {
                terminal.Output.Write(described.Help());
                return 0;
            }

            if (args.Length > 1)
            {
                return Unknown(args[1], terminal.Error);
            }

            WriteHelp(terminal.Output);
            return 0;
        }

        CliCommand command;
        string[] rest;
        if (first is "--version" or "-V")
        {
            (command, rest) = (VersionCommand.Command, args[1..]);
        }
        else if (first is null || first.StartsWith('-'))
        {
            // No command: the server, with whatever settings were given.
            (command, rest) = (ServeCommand.Command, args);
        }
        else if (Find(first) is { } found)
        {
            (command, rest) = (found, args[1..]);
        }
        else
        {
            return Unknown(first, terminal.Error);
        }

        try
        {
            var parsed = CommandLine.Parse(command, rest);
            if (parsed.HelpRequested)
            {
                terminal.Output.Write(command.Help());
                return 0;
            }

            return await command.RunAsync(parsed, terminal, cancellationToken);
        }
        catch (UsageException e)
        {
            terminal.Error.WriteLine($"heaven {command.Name}: {e.Message}");
            terminal.Error.WriteLine($"Usage: {command.Usage}");
            terminal.Error.WriteLine($"Run 'heaven {command.Name} --help' for what it takes.");
            return 2;
        }
        catch (Exception e) when (e is StartupException or MissingDataDirectoryException)
        {
            terminal.Error.WriteLine(e.Message);
            return 2;
        }
    }

    private static CliCommand? Find(string name) => Commands.FirstOrDefault(c => c.Name == name);

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
        foreach (var command in Commands)
        {
            output.WriteLine($"  {command.Usage}");
            output.WriteLine($"      {command.Summary}");
        }

        output.WriteLine("  heaven --help");
        output.WriteLine("      show this help; 'heaven COMMAND --help' explains a command, its arguments and options");
        output.WriteLine();
        output.WriteLine("Settings come from appsettings.json, then environment variables (GitHub__Token, or the original");
        output.WriteLine("Heaven's names such as GITHUB_TOKEN), then --Section:Key=VALUE arguments. See docs/configuration.md for the full list.");
        output.WriteLine("Exit codes: 0 done, 1 the command ran and the answer is no (nothing to cancel, a failed deploy),");
        output.WriteLine("2 the command line or the settings are wrong (the message says what to change).");
    }
}

/// <summary><c>heaven version</c> (or <c>heaven --version</c>): which Heaven this is.</summary>
internal static class VersionCommand
{
    public static readonly CliCommand Command = new(
        "version",
        "heaven --version",
        "print Heaven's version",
        "",
        (_, terminal, _) =>
        {
            terminal.Output.WriteLine($"heaven {HeavenVersion.Current}");
            return Task.FromResult(0);
        })
    {
        TakesSettings = false,
    };
}
