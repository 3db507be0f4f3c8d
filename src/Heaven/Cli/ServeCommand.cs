using Heaven.Hosting;

namespace Heaven.Cli;

internal static class ServeCommand
{
    public static async Task<int> RunAsync(string[] args, Terminal terminal, CancellationToken cancellationToken)
    {
        var app = terminal.Build(args);
        await HeavenApp.StartAsync(app, cancellationToken);
        terminal.MaskWithServerMasker(app);
        StartupReport.Write(app.Services, terminal.Output);
        await app.WaitForShutdownAsync(cancellationToken);
        return 0;
    }
}
