using System.Globalization;
using Heaven.Web;

namespace Heaven.Cli;

/// <summary>
/// <c>heaven rotate-log-links</c>: replaces the key that signs log links, so every link issued before
/// (in GitHub's deployment statuses, chat messages, a deploy's <c>HEAVEN_LOG_URL</c>) stops working, on
/// every node at once. For a link that was shared too widely, or a key that may have leaked.
/// </summary>
internal static class RotateLogLinksCommand
{
    public static readonly CliCommand Command = new(
        "rotate-log-links",
        "heaven rotate-log-links",
        "replace the key that signs log links: every link issued before stops working",
        "For a log link shared too widely or a key that may have leaked; on every node sharing the database. The logs themselves are kept.",
        RunAsync);

    private static async Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var made = await app.Services.GetRequiredService<LogLinks>().RotateAsync(cancellationToken);
        var output = terminal.Output;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Replaced the log-link key at {made:yyyy-MM-dd HH:mm:ss}Z."));
        output.WriteLine("Every log link issued before now (in deployment statuses on GitHub, chat messages, HEAVEN_LOG_URL) answers 404 \"No such log.\" from now on, on every Heaven node sharing this database.");
        output.WriteLine("Links issued from now on work as before; the logs themselves are kept.");
        return 0;
    }
}
