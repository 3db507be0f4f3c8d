using Heaven.Deployments;
using Heaven.Hosting;

namespace Heaven.Cli;

/// <summary><c>heaven [serve]</c>: the server.</summary>
internal static class ServeCommand
{
    public static readonly CliCommand Command = new(
        "serve",
        "heaven [serve] [--urls URL] [--Section:Key=VALUE ...]",
        "run the server (the default when no command is given)",
        "It creates its data directory if there is none, prints where GitHub's webhook goes, and runs until stopped (Ctrl+C, SIGTERM): " +
        "then it starts no new deployments, lets running ones finish for up to Deployments:DrainTimeout seconds, cancels the rest, and exits 0. " +
        "A second Ctrl+C or SIGTERM cancels them at once (docs/operations.md).",
        RunAsync)
    {
        TakesUrls = true,
    };

    private static async Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var app = terminal.BuildServer([.. arguments.Settings]);
        await HeavenApp.StartAsync(app, cancellationToken);
        terminal.MaskWithServerMasker(app);
        var drained = await app.Services.GetRequiredService<NodeDrains>().ForThisNodeAsync(cancellationToken);
        StartupReport.Publish(app.Services, terminal.Output, drained);
        // Not the Ctrl+C token: once running, Ctrl+C and SIGTERM stop the server gracefully (GracefulShutdown).
        await app.WaitForShutdownAsync(CancellationToken.None);
        return 0;
    }
}
