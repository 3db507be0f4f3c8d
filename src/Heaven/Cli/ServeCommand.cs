using Heaven.Hosting;

namespace Heaven.Cli;

/// <summary><c>heaven [serve]</c>: the server.</summary>
internal static class ServeCommand
{
    public static readonly CliCommand Command = new(
        "serve",
        "heaven [serve] [--urls URL] [--Section:Key=VALUE ...]",
        "run the server (the default when no command is given)",
        "It creates its data directory if there is none, prints where GitHub's webhook goes, and runs until stopped (Ctrl+C, SIGTERM).",
        RunAsync)
    {
        TakesUrls = true,
    };

    private static async Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var app = terminal.Build([.. arguments.Settings]);
        await HeavenApp.StartAsync(app, cancellationToken);
        terminal.MaskWithServerMasker(app);
        StartupReport.Publish(app.Services, terminal.Output);
        await app.WaitForShutdownAsync(cancellationToken);
        return 0;
    }
}
