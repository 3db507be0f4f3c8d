using System.Globalization;
using System.Text;

namespace Heaven.Cli;

/// <summary>What an option's value must be; checked before the command runs, so a typo never passes silently.</summary>
internal enum OptionValue
{
    /// <summary>A flag: present or not, no value.</summary>
    None,

    /// <summary>Any text.</summary>
    Text,

    /// <summary>A whole number of at least 1.</summary>
    PositiveNumber,
}

/// <summary>One option of a command: <c>--name VALUE</c> (or <c>--name=VALUE</c>), or a flag.</summary>
internal sealed record CliOption(string Name, OptionValue Value, string Help, string? ValueName = null, string? Alias = null)
{
    public static CliOption Flag(string name, string help) => new(name, OptionValue.None, help);

    public static CliOption Text(string name, string valueName, string help, string? alias = null) => new(name, OptionValue.Text, help, valueName, alias);

    public static CliOption Number(string name, string valueName, string help) => new(name, OptionValue.PositiveNumber, help, valueName);

    public string Shown => Value == OptionValue.None ? Name : $"{Name} {ValueName}";
}

/// <summary>A positional argument, in the order given.</summary>
internal sealed record CliArgument(string Name, string Help, bool Optional = false);

/// <summary>
/// One command of the <c>heaven</c> executable: what it takes (options, positional arguments, the
/// server's settings), how it is used and what it does. <see cref="CommandLine"/> reads the arguments
/// against it; the command runs only with arguments that make sense.
/// </summary>
internal sealed record CliCommand(
    string Name,
    string Usage,
    string Summary,
    string Explanation,
    Func<ParsedArguments, Terminal, CancellationToken, Task<int>> RunAsync)
{
    public IReadOnlyList<CliOption> Options { get; init; } = [];

    public IReadOnlyList<CliArgument> Arguments { get; init; } = [];

    /// <summary>Whether the server's own <c>--urls</c> setting is taken (only by the server).</summary>
    public bool TakesUrls { get; init; }

    /// <summary>Whether it stands alone: no settings, no data directory (help, version).</summary>
    public bool TakesSettings { get; init; } = true;

    /// <summary>The help of <c>heaven NAME --help</c>: usage, what it does, its arguments and options.</summary>
    public string Help()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Usage: {Usage}");
        text.AppendLine();
        text.AppendLine(Summary[..1].ToUpperInvariant() + Summary[1..] + ".");
        if (Explanation.Length > 0)
        {
            text.AppendLine(Explanation);
        }

        var rows = new List<(string Left, string Right)>();
        rows.AddRange(Arguments.Select(a => (a.Name, a.Help)));
        rows.AddRange(Options.Select(o => (o.Alias is null ? o.Shown : $"{o.Shown}, {o.Alias}", o.Help)));
        if (TakesUrls)
        {
            rows.Add(("--urls URL", "where the server listens (default http://*:8080)"));
        }

        if (TakesSettings)
        {
            rows.Add(("--DataDirectory DIR", "Heaven's data directory (or HEAVEN_DATA_DIR; default ./data)"));
            rows.Add(("--Section:Key=VALUE", "any setting, as in appsettings.json (also --Section:Key VALUE)"));
        }

        rows.Add(("--help, -h", "show this help"));
        var width = rows.Max(r => r.Left.Length);
        text.AppendLine();
        foreach (var (left, right) in rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {left.PadRight(width)}  {right}");
        }

        return text.ToString();
    }
}

/// <summary>The arguments of one run of a command, read against its <see cref="CliCommand"/>.</summary>
internal sealed class ParsedArguments
{
    private readonly Dictionary<string, string> values = new(StringComparer.Ordinal);

    public List<string> Positionals { get; } = [];

    /// <summary>The server's settings given on the command line, as the configuration reads them.</summary>
    public List<string> Settings { get; } = [];

    public bool HelpRequested { get; set; }

    public bool Has(string option) => values.ContainsKey(option);

    public string? Text(string option) => values.GetValueOrDefault(option);

    public int Number(string option, int fallback) =>
        values.TryGetValue(option, out var text) ? int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture) : fallback;

    /// <summary>The <c>--limit</c> of a list command: how many rows, within what the shared queries allow.</summary>
    public int Limit(int fallback)
    {
        var limit = Number("--limit", fallback);
        return limit is >= 1 and <= Heaven.Operations.ActivityQueries.MaxLimit
            ? limit
            : throw new UsageException($"--limit must be between 1 and {Heaven.Operations.ActivityQueries.MaxLimit}.");
    }

    internal void Set(string option, string value) => values[option] = value;
}

/// <summary>A command line that makes no sense: said in one line, followed by the command's usage; exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Reads a command's arguments: its declared options (<c>--name VALUE</c>, <c>--name=VALUE</c>, flags),
/// its positional arguments, and the server's settings as the server takes them (<c>--Section:Key=VALUE</c>,
/// <c>--Section:Key VALUE</c>, <c>--DataDirectory DIR</c>). Anything else is an error, never ignored.
/// </summary>
internal static class CommandLine
{
    /// <summary>The settings without a section that the command line may set.</summary>
    private const string DataDirectorySetting = "--DataDirectory";

    private const string UrlsSetting = "--urls";

    public static ParsedArguments Parse(CliCommand command, IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(args);
        var parsed = new ParsedArguments();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string Value(string name, string? inline)
            {
                if (inline is not null)
                {
                    return inline;
                }

                if (i + 1 >= args.Count)
                {
                    throw new UsageException($"{name} needs a value.");
                }

                return args[++i];
            }

            if (arg is "--help" or "-h" or "-?")
            {
                parsed.HelpRequested = true;
                continue;
            }

            if (arg == "--")
            {
                parsed.Positionals.AddRange(args.Skip(i + 1));
                break;
            }

            if (!arg.StartsWith('-') || arg == "-")
            {
                parsed.Positionals.Add(arg);
                continue;
            }

            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? arg : arg[..equals];
            var inline = equals < 0 ? null : arg[(equals + 1)..];
            if (command.Options.FirstOrDefault(o => o.Name == name || o.Alias == name) is { } option)
            {
                if (option.Value == OptionValue.None)
                {
                    if (inline is not null)
                    {
                        throw new UsageException($"{option.Name} takes no value.");
                    }

                    parsed.Set(option.Name, "");
                    continue;
                }

                var value = Value(option.Name, inline);
                if (option.Value == OptionValue.PositiveNumber
                    && !(int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0))
                {
                    throw new UsageException($"{option.Name} must be a whole number of at least 1; got '{value}'.");
                }

                parsed.Set(option.Name, value);
                continue;
            }

            var isSetting = command.TakesSettings && name.StartsWith("--", StringComparison.Ordinal) && (
                (name.Contains(':', StringComparison.Ordinal) && name.Length > 3 && !name.EndsWith(':'))
                || string.Equals(name, DataDirectorySetting, StringComparison.OrdinalIgnoreCase)
                || (command.TakesUrls && string.Equals(name, UrlsSetting, StringComparison.OrdinalIgnoreCase)));
            if (isSetting)
            {
                // As one argument, the form the configuration reads whether or not the value starts with '-'.
                parsed.Settings.Add($"{name}={Value(name, inline)}");
                continue;
            }

            throw new UsageException($"'{name}' is not an option of heaven {command.Name}.");
        }

        var required = command.Arguments.Count(a => !a.Optional);
        if (!parsed.HelpRequested)
        {
            if (parsed.Positionals.Count < required)
            {
                throw new UsageException($"{command.Arguments[parsed.Positionals.Count].Name} is missing.");
            }

            if (parsed.Positionals.Count > command.Arguments.Count)
            {
                throw new UsageException($"'{parsed.Positionals[command.Arguments.Count]}' is one argument too many.");
            }
        }

        return parsed;
    }
}
