using Microsoft.Extensions.Logging.Console;

namespace Heaven.Hosting;

/// <summary>
/// The console log: readable lines with UTC timestamps by default, or .NET's JSON formatter
/// (<c>Logging:Console:FormatterName=json</c>) for log shippers, one JSON object a line. In JSON mode
/// the scopes (a deployment's id and repository) are in every line, and whatever else the server
/// prints on standard output is a JSON line too (<see cref="StartupReport.Publish"/>).
/// </summary>
internal static class ConsoleLogFormat
{
    private const string FormatterSetting = "Logging:Console:FormatterName";
    private const string IncludeScopesSetting = "Logging:Console:FormatterOptions:IncludeScopes";

    public static bool IsJson(IConfiguration configuration) =>
        string.Equals(configuration[FormatterSetting]?.Trim(), ConsoleFormatterNames.Json, StringComparison.OrdinalIgnoreCase);

    public static void Configure(WebApplicationBuilder builder)
    {
        var scopesChosen = builder.Configuration[IncludeScopesSetting] is not null;
        builder.Services.PostConfigure<JsonConsoleFormatterOptions>(options =>
        {
            // The readable format's timestamp ends in a space to set it off from the message; a JSON value does not need it.
            options.TimestampFormat = options.TimestampFormat?.TrimEnd();
            if (!scopesChosen)
            {
                options.IncludeScopes = true;
            }
        });
    }
}
