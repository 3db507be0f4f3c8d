using System.Globalization;

namespace Heaven.Cli;

/// <summary>
/// The arguments of the listing commands: <c>--limit N</c>, the command's own flags, and everything
/// else passed on as settings (<c>--Key=Value</c>), as the server takes them.
/// </summary>
internal sealed record ListArguments(int Limit, IReadOnlySet<string> Flags, IReadOnlyList<string> Settings)
{
    public static ListArguments Parse(IEnumerable<string> args, int defaultLimit, params string[] flags)
    {
        var limit = defaultLimit;
        var given = new HashSet<string>(StringComparer.Ordinal);
        var settings = new List<string>();
        var list = args.ToList();
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] == "--limit" && i + 1 < list.Count && int.TryParse(list[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
            {
                limit = n;
                i++;
            }
            else if (flags.Contains(list[i], StringComparer.Ordinal))
            {
                given.Add(list[i]);
            }
            else
            {
                settings.Add(list[i]);
            }
        }

        return new ListArguments(limit, given, settings);
    }
}
