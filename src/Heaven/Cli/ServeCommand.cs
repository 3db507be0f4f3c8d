using Heaven.Hosting;

namespace Heaven.Cli;

internal static class ServeCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken)
    {
        var app = HeavenApp.Build(HeavenApp.CreateBuilder(args));
        await HeavenApp.StartAsync(app, cancellationToken);
        StartupReport.Write(app.Services, output);
        await app.WaitForShutdownAsync(cancellationToken);
        return 0;
    }
}
