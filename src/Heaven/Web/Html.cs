using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Unicode;

namespace Heaven.Web;

/// <summary>
/// Markup that is safe to write as it is. The only ways to make one are <see cref="Of"/> (an
/// interpolated string whose literal parts are markup written in the code and whose holes are
/// HTML-encoded, unless they already are <see cref="Html"/>) and <see cref="Text"/>. Ref names,
/// environment names, commit messages and log lines are whatever a repository's collaborators typed,
/// so nothing a page shows is ever concatenated into markup by hand.
/// </summary>
/// <remarks>
/// Holes may stand in element content and inside quoted attribute values (<c>title="{value}"</c>):
/// the encoder escapes quotes as well as <c>&lt; &gt; &amp;</c>. An attribute that holds a link takes
/// <see cref="Url"/>, which refuses <c>javascript:</c> and other schemes.
/// </remarks>
public readonly struct Html : IEquatable<Html>
{
    // Every character outside ASCII stays readable in the page source; only what HTML gives a meaning to is escaped.
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(UnicodeRanges.All);

    private readonly string? markup;

    private Html(string markup) => this.markup = markup;

    public static Html Empty => default;

    public bool IsEmpty => string.IsNullOrEmpty(markup);

    /// <summary>Markup from an interpolated string: <c>Html.Of($"&lt;td&gt;{refName}&lt;/td&gt;")</c>.</summary>
    public static Html Of(ref HtmlInterpolation interpolation) => new(interpolation.Finish());

    /// <summary>Text shown as text.</summary>
    public static Html Text(string? text) => new(Encode(text));

    /// <summary>Parts one after another.</summary>
    public static Html Join(IEnumerable<Html> parts) => new(string.Concat(parts.Select(part => part.markup)));

    /// <summary>
    /// A link target for an <c>href</c> or <c>action</c>: a path on this server or an http(s) address;
    /// anything else (<c>javascript:</c>, <c>data:</c>, a scheme-relative <c>//host</c>) becomes <c>#</c>.
    /// </summary>
    public static Html Url(string? url)
    {
        if (string.IsNullOrEmpty(url))
        {
            return new("#");
        }

        var local = url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal);
        var web = Uri.TryCreate(url, UriKind.Absolute, out var absolute) && (absolute.Scheme == Uri.UriSchemeHttps || absolute.Scheme == Uri.UriSchemeHttp);
        return new(local || web ? Encode(url) : "#");
    }

    internal static string Encode(string? text) => string.IsNullOrEmpty(text) ? "" : Encoder.Encode(text);

    public override string ToString() => markup ?? "";

    public bool Equals(Html other) => string.Equals(ToString(), other.ToString(), StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is Html other && Equals(other);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(ToString());

    public static bool operator ==(Html left, Html right) => left.Equals(right);

    public static bool operator !=(Html left, Html right) => !left.Equals(right);
}

/// <summary>Builds an <see cref="Html"/> from an interpolated string: literal parts as written, every hole encoded.</summary>
[InterpolatedStringHandler]
public ref struct HtmlInterpolation
{
    private StringBuilder? builder;

    public HtmlInterpolation(int literalLength, int formattedCount) => builder = new StringBuilder(literalLength + (formattedCount * 16));

    /// <summary>A literal part: markup written in Heaven's own code (an interpolated string's literal parts are compile-time constants).</summary>
    public readonly void AppendLiteral(string literal) => builder!.Append(literal);

    public readonly void AppendFormatted<T>(T value) => AppendFormatted(value, format: null);

    public readonly void AppendFormatted<T>(T value, string? format)
    {
        switch (value)
        {
            case null:
                return;
            case Html html:
                builder!.Append(html.ToString());
                return;
            case IEnumerable<Html> parts:
                foreach (var part in parts)
                {
                    builder!.Append(part.ToString());
                }

                return;
            case IFormattable formattable:
                builder!.Append(Html.Encode(formattable.ToString(format, CultureInfo.InvariantCulture)));
                return;
            default:
                builder!.Append(Html.Encode(value.ToString()));
                return;
        }
    }

    internal string Finish()
    {
        var text = builder!.ToString();
        builder = null;
        return text;
    }
}
