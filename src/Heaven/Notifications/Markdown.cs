using System.Text;

namespace Heaven.Notifications;

/// <summary>Markdown for Teams and Discord: names with * _ [ ] and the like must not turn into formatting.</summary>
internal static class Markdown
{
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

    public static string Link(string url, string text) => $"[{text}]({url.Replace(")", "%29", StringComparison.Ordinal)})";
}
