using System.Globalization;
using Heaven.Model;

namespace Heaven.Output;

/// <summary>The stored form of log lines: one stream character, the text, a newline.</summary>
internal static class LogText
{
    /// <summary>Stands in for what cannot be stored or shown (NUL, half of a surrogate pair).</summary>
    public const char ReplacementChar = '\uFFFD';

    public static char PrefixOf(OutputStream stream) => stream switch
    {
        OutputStream.Stdout => 'o',
        OutputStream.Stderr => 'e',
        _ => 'h',
    };

    public static OutputStream StreamOf(char prefix) => prefix switch
    {
        'o' => OutputStream.Stdout,
        'e' => OutputStream.Stderr,
        _ => OutputStream.Heaven,
    };

    /// <summary>
    /// Replaces NUL (PostgreSQL's text type refuses it) and lone surrogates (left by a decoder that met
    /// invalid UTF-8 halfway, or by a line cut in the middle of a pair; they cannot be encoded as UTF-8).
    /// A clean line, nearly every line, is returned as it is after two vectorised scans.
    /// </summary>
    public static string Clean(string line)
    {
        var span = line.AsSpan();
        if (span.IndexOf('\0') < 0 && span.IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
        {
            return line;
        }

        return string.Create(line.Length, line, static (target, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                var c = source[i];
                if (c == '\0')
                {
                    target[i] = ReplacementChar;
                }
                else if (char.IsHighSurrogate(c) && i + 1 < source.Length && char.IsLowSurrogate(source[i + 1]))
                {
                    target[i] = c;
                    target[i + 1] = source[i + 1];
                    i++;
                }
                else
                {
                    target[i] = char.IsSurrogate(c) ? ReplacementChar : c;
                }
            }
        });
    }

    /// <summary>"25 MB", "32 KB", "1,000 bytes": sizes as a person reads them in a log.</summary>
    public static string Size(long bytes) => bytes switch
    {
        >= 1024 * 1024 when bytes % (1024 * 1024) == 0 => $"{bytes / (1024 * 1024)} MB",
        >= 1024 when bytes % 1024 == 0 => $"{bytes / 1024} KB",
        >= 1_000_000 when bytes % 1_000_000 == 0 => $"{bytes / 1_000_000} MB",
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes:N0} bytes"),
    };

    public static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
