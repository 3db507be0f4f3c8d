using System.Text;

namespace Heaven.Notifications;

/// <summary>
/// Markdown for Teams and Discord: a name with <c>* _ [ ]</c> and the like must not turn into
/// formatting, and a ref or environment named <c>x](https://evil)</c> must not turn into a link.
/// </summary>
internal static class Markdown
{
    /// <summary>
    /// Markdown's punctuation that means something inside a line (emphasis, code, strike-through,
    /// spoilers, links, quotes, HTML and mentions); each is shown as itself after a backslash.
    /// Parentheses are left alone: they make a link only right after a <c>]</c>, and every <c>]</c>
    /// in a text is escaped, so "(daf8192)" stays readable where a service shows escapes as they are.
    /// </summary>
    private const string Special = "\\`*_~[]<>|";

    public static string Escape(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (Special.Contains(c, StringComparison.Ordinal))
            {
                builder.Append('\\');
            }

            builder.Append(c);
        }

        return builder.ToString();
    }

    /// <summary>A link; <paramref name="text"/> is escaped already, <paramref name="url"/> cleaned (<see cref="LinkAddress"/>).</summary>
    /// <remarks>Parentheses are percent-encoded too: a ')' would end the address early.</remarks>
    public static string Link(string url, string text) =>
        $"[{text}]({url.Replace("(", "%28", StringComparison.Ordinal).Replace(")", "%29", StringComparison.Ordinal)})";
}
