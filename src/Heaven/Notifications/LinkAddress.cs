using System.Text;

namespace Heaven.Notifications;

/// <summary>
/// The address of a link as it may stand inside a chat service's markup. A link's address can come
/// from any deployment system on the repository (a status's <c>log_url</c>), so it is treated like any
/// other text from outside: only http(s) addresses become links, and every character a URL may not
/// hold (a space, <c>&lt;</c>, <c>&gt;</c>, <c>|</c>, a quote, a newline) is percent-encoded, so no
/// address can end its link early and start one of its own.
/// </summary>
internal static class LinkAddress
{
    /// <summary>RFC 3986's unreserved and reserved characters, and '%' of an escape already made.</summary>
    private const string Allowed = "-._~:/?#[]@!$&'()*+,;=%";

    /// <summary>The address with what a URL may not hold percent-encoded; null when it is not an absolute http(s) address.</summary>
    public static string? Clean(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return null;
        }

        var builder = new StringBuilder(url.Length);
        Span<byte> bytes = stackalloc byte[4];
        foreach (var rune in url.Trim().EnumerateRunes())
        {
            if (rune.IsAscii && (char.IsAsciiLetterOrDigit((char)rune.Value) || Allowed.Contains((char)rune.Value, StringComparison.Ordinal)))
            {
                builder.Append((char)rune.Value);
                continue;
            }

            var length = rune.EncodeToUtf8(bytes);
            foreach (var b in bytes[..length])
            {
                builder.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }
}
