using System.Net.Sockets;
using System.Text.RegularExpressions;
using Heaven.Configuration;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace Heaven.Hosting;

/// <summary>
/// The exceptions a start can end in, said for a person: one line per problem, naming the setting to
/// fix and what is expected. What is not recognised here stays an exception, with its stack trace.
/// </summary>
internal static partial class StartupProblems
{
    public const string UrlsSetting = "--urls (or ASPNETCORE_URLS)";

    /// <summary>The lines to show for <paramref name="exception"/>, or null when it is not a known start-up failure.</summary>
    public static string? Explain(Exception exception, IConfiguration configuration) => exception switch
    {
        StartupException => exception.Message,
        OptionsValidationException invalid => Lines(invalid.Failures),
        AggregateException aggregate when aggregate.InnerExceptions.Select(e => Explain(e, configuration)).ToList() is var all && all.All(m => m is not null) =>
            Lines(all.SelectMany(m => m!.Split('\n'))),
        InvalidOperationException when ConversionProblem(exception, configuration) is { } problem => problem,
        // Kestrel's: the address is taken.
        IOException when Find<AddressInUseException>(exception) is not null =>
            $"Heaven cannot listen on {BoundAddress(exception) ?? configuration["urls"]}: the address is already in use. Stop the program listening there, or give Heaven another address with {UrlsSetting}.",
        // Kestrel's: any other refusal to listen (a port below 1024 without the right to it, an address this machine does not have).
        SocketException socket => $"Heaven cannot listen on {configuration["urls"]}: {socket.Message}. Give Heaven another address with {UrlsSetting}.",
        // Kestrel's: an https:// address without a certificate.
        InvalidOperationException when exception.Message.StartsWith("Unable to configure HTTPS endpoint", StringComparison.Ordinal) =>
            $"{UrlsSetting} has an https:// address ('{configuration["urls"]}') but no certificate is configured: listen on http:// behind a proxy that terminates TLS, or give Kestrel a certificate (Kestrel:Certificates:Default:Path).",
        FormatException when exception.Message.StartsWith("Invalid url", StringComparison.Ordinal) => UrlsProblem(configuration["urls"]) ?? UrlsExpected(configuration["urls"]),
        _ => null,
    };

    /// <summary>One problem a line, each on one line, each once.</summary>
    public static string Lines(IEnumerable<string> problems) =>
        string.Join("\n", problems.Select(p => p.ReplaceLineEndings(" ").Trim()).Where(p => p.Length > 0).Distinct(StringComparer.Ordinal));

    /// <summary>
    /// What is wrong with the addresses to listen on (the <c>urls</c> setting: <c>--urls</c> or
    /// <c>ASPNETCORE_URLS</c>), checked as Kestrel reads them, before anything starts; null when they are usable.
    /// </summary>
    public static string? UrlsProblem(string? urls)
    {
        var addresses = (urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return addresses.All(IsListenAddress) ? null : UrlsExpected(urls);
    }

    private static string UrlsExpected(string? urls) =>
        $"{UrlsSetting} must be one or more addresses such as http://*:{HeavenApp.DefaultPort} or http://127.0.0.1:9000, separated by ';'; got '{urls}'.";

    private static bool IsListenAddress(string address)
    {
        BindingAddress parsed;
        try
        {
            parsed = BindingAddress.Parse(address);
        }
        catch (FormatException)
        {
            return false;
        }

        if (parsed.IsUnixPipe || parsed.IsNamedPipe)
        {
            return true;
        }

        return (string.Equals(parsed.Scheme, "http", StringComparison.OrdinalIgnoreCase) || string.Equals(parsed.Scheme, "https", StringComparison.OrdinalIgnoreCase))
            && parsed.Host.Length > 0
            && parsed.PathBase.Length == 0
            && parsed.Port is >= 0 and <= 65_535;
    }

    /// <summary>The binder's "Failed to convert configuration value at 'X' to type 'Y'", said for a person.</summary>
    private static string? ConversionProblem(Exception exception, IConfiguration configuration)
    {
        var match = ConversionFailure().Match(exception.Message);
        if (!match.Success)
        {
            return null;
        }

        var key = match.Groups[1].Value;
        var typeName = match.Groups[2].Value;
        var expected = typeName switch
        {
            "System.Int32" or "System.Int64" => "a whole number",
            "System.Boolean" => "true or false",
            "System.TimeSpan" => "a duration such as 00:05:00",
            _ when EnumNamed(typeName) is { } type => OneOf(Enum.GetNames(type).Select(n => n.ToLowerInvariant()).ToList()),
            _ => $"a value of type {typeName}",
        };
        return $"{LegacyEnvironmentVariables.Describe(key)} must be {expected}; got '{configuration[key]}'.";
    }

    private static Type? EnumNamed(string typeName)
    {
        var type = typeof(StartupProblems).Assembly.GetType(typeName) ?? Type.GetType(typeName);
        return type is { IsEnum: true } ? type : null;
    }

    /// <summary>"a", "a or b", "a, b or c".</summary>
    private static string OneOf(IReadOnlyList<string> names) =>
        names.Count < 2 ? string.Join("", names) : $"{string.Join(", ", names.Take(names.Count - 1))} or {names[^1]}";

    private static string? BoundAddress(Exception exception)
    {
        var match = FailedToBind().Match(exception.Message);
        return match.Success ? match.Groups[1].Value : null;
    }

    private static T? Find<T>(Exception? exception)
        where T : Exception
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is T found)
            {
                return found;
            }
        }

        return null;
    }

    [GeneratedRegex("at '([^']+)' to type '([^']+)'")]
    private static partial Regex ConversionFailure();

    [GeneratedRegex("^Failed to bind to address (.+?): address already in use")]
    private static partial Regex FailedToBind();
}
