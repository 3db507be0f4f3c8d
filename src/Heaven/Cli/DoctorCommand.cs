using Heaven.Configuration;
using Heaven.Diagnostics;
using Heaven.Hosting;

namespace Heaven.Cli;

/// <summary>
/// <c>heaven doctor</c>: checks an installation with the server's settings and prints one line per
/// check. Changes nothing: no data directory is created, no mode repaired, no migration applied.
/// </summary>
internal static class DoctorCommand
{
    public static readonly CliCommand Command = new(
        "doctor",
        "heaven doctor",
        "check this installation: GitHub, clock, webhook, tools, data directory, database, isolation, disk, chat",
        "Prints one line per check: 'ok', 'note' (worth knowing, not wrong) or 'FAIL' with what to do. Run it with the server's settings " +
        "(the same appsettings.json, environment and --DataDirectory); it changes nothing and posts nothing to chat. Exit code 0 when nothing failed, 1 otherwise.",
        RunAsync);

    private static async Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var output = terminal.Output;
        var app = terminal.BuildForInspection(arguments.Settings);
        string? settingsProblem = null;
        try
        {
            HeavenApp.ValidateSettings(app.Services);
        }
        catch (StartupException e)
        {
            settingsProblem = e.Message;
        }

        var failed = 0;
        await foreach (var line in new Doctor(app.Services).RunAsync(settingsProblem, cancellationToken))
        {
            output.WriteLine(line.ToString());
            output.Flush();
            failed += line.Result == CheckResult.Fail ? 1 : 0;
        }

        output.WriteLine(failed == 0 ? "All checks passed." : $"{failed} check(s) failed.");
        return failed == 0 ? 0 : 1;
    }
}
