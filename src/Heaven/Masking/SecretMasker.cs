using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Heaven.Model;

namespace Heaven.Masking;

/// <summary>
/// The one place secrets leave the output: every registered value, in every form a deploy tool may print
/// it in (plain, base64 at any alignment, URL-encoded, JSON-escaped, reversed, hex), becomes <c>***</c>. Thread-safe; <see cref="Mask"/> takes no lock, except once after
/// <see cref="Add"/> to rebuild its search.
/// </summary>
/// <remarks>
/// Masking works on whole lines. The process runner joins a line that arrives in several pipe reads
/// before it is handed on, so a secret split across two reads is still masked. Its one limit: a line
/// longer than the runner's line limit (64 KiB) is cut into pieces, and a secret that straddles that
/// cut is seen as two halves and not masked. Output that long without a newline is binary noise in
/// practice; the limit is accepted rather than paid for on every line.
/// </remarks>
public sealed class SecretMasker : ISecretMasker
{
    public const string Replacement = "***";

    /// <summary>
    /// Shorter values are ignored: masking "a" or "yes" would destroy the log without protecting
    /// anything (a 3-character secret is guessed faster than it is read from a log).
    /// </summary>
    public const int MinimumLength = 4;

    /// <summary>Lines of a multi-line secret (a private key) shorter than this are its armour, not its secret.</summary>
    internal const int MinimumLineLength = 8;

    /// <summary>A shifted base64 form shorter than this would match ordinary text by chance.</summary>
    private const int MinimumShiftedBase64Length = 8;

    private readonly Lock gate = new();
    private readonly HashSet<string> values;
    private Matcher? matcher;

    public SecretMasker()
        : this(new HashSet<string>(StringComparer.Ordinal), Matcher.Empty)
    {
    }

    private SecretMasker(HashSet<string> values, Matcher? matcher)
    {
        this.values = values;
        this.matcher = matcher;
    }

    /// <summary>How many strings (secrets and their forms) are searched for.</summary>
    public int Count
    {
        get
        {
            lock (gate)
            {
                return values.Count;
            }
        }
    }

    /// <summary>
    /// A masker that starts with every secret known here; secrets added to it (a deployment's own) stay
    /// in it. Secrets added here later are not seen by scopes made earlier.
    /// </summary>
    public SecretMasker CreateScope()
    {
        lock (gate)
        {
            return new SecretMasker(new HashSet<string>(values, StringComparer.Ordinal), matcher);
        }
    }

    public void Add(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var forms = FormsOf(secret).Where(f => f.Length >= MinimumLength && f.IndexOfAny(['\n', '\r']) < 0).ToList();
        if (forms.Count == 0)
        {
            return;
        }

        lock (gate)
        {
            var added = false;
            foreach (var form in forms)
            {
                added |= values.Add(form);
            }

            if (added)
            {
                // Rebuilt lazily by the next Mask, so seeding many secrets builds the search once.
                Volatile.Write(ref matcher, null);
            }
        }
    }

    public string Mask(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var current = Volatile.Read(ref matcher) ?? Rebuild();
        return current.Mask(line);
    }

    /// <summary>
    /// The server's masker: every secret in the configuration (by a list of known keys and by any key
    /// whose name says it holds a secret) plus <paramref name="additionalSecrets"/> (the generated webhook secret).
    /// </summary>
    public static SecretMasker ForServer(IConfiguration configuration, IEnumerable<string>? additionalSecrets = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var masker = new SecretMasker();
        foreach (var secret in ConfiguredSecrets.From(configuration).Concat(additionalSecrets ?? []))
        {
            masker.Add(secret);
        }

        return masker;
    }

    private Matcher Rebuild()
    {
        lock (gate)
        {
            var current = Volatile.Read(ref matcher);
            if (current is null)
            {
                current = Matcher.Create(values);
                Volatile.Write(ref matcher, current);
            }

            return current;
        }
    }

    /// <summary>Every form of a secret that may appear on one line of output.</summary>
    internal static IEnumerable<string> FormsOf(string secret)
    {
        var value = secret.Trim();
        if (value.Length < MinimumLength)
        {
            yield break;
        }

        // The original Heaven's DEPLOYMENT_PRIVATE_KEY is one line with literal "\n" separators; a
        // deploy that writes the key to a file and prints it shows real lines.
        var multiLine = value.Contains("\\n", StringComparison.Ordinal)
            ? value.Replace("\\r\\n", "\n", StringComparison.Ordinal).Replace("\\n", "\n", StringComparison.Ordinal)
            : value.Replace("\r\n", "\n", StringComparison.Ordinal);

        if (multiLine.Contains('\n'))
        {
            foreach (var line in multiLine.Split('\n'))
            {
                var trimmed = line.Trim();
                // "-----BEGIN OPENSSH PRIVATE KEY-----" says what the key is, not what it is.
                if (trimmed.Length >= MinimumLineLength && !trimmed.StartsWith("-----", StringComparison.Ordinal))
                {
                    yield return trimmed;
                }
            }

            // The one-line form with literal \n (also what JSON escaping of the key gives), as
            // configured and as the lines would be joined.
            yield return value;
            yield return multiLine.Replace("\n", "\\n", StringComparison.Ordinal);
            foreach (var form in EncodedForms(multiLine, includeShifts: false).Concat(EncodedForms(value, includeShifts: false)))
            {
                yield return form;
            }

            yield break;
        }

        yield return value;
        foreach (var form in EncodedForms(value, includeShifts: true))
        {
            yield return form;
        }

        // What a deploy prints when it "hides" a value by hand (rev, xxd -p, od, a hex dump in a
        // debug line): the same secret, as readable as in plain text to whoever reads the log.
        yield return Reversed(value);
        var bytes = Encoding.UTF8.GetBytes(value);
        yield return Convert.ToHexStringLower(bytes);
        yield return Convert.ToHexString(bytes);
    }

    /// <summary>The text backwards, by character (a surrogate pair stays one character), as <c>rev</c> prints it.</summary>
    private static string Reversed(string value)
    {
        var runes = value.EnumerateRunes().ToArray();
        Array.Reverse(runes);
        var builder = new StringBuilder(value.Length);
        foreach (var rune in runes)
        {
            builder.Append(rune.ToString());
        }

        return builder.ToString();
    }

    private static IEnumerable<string> EncodedForms(string value, bool includeShifts)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        var base64 = Convert.ToBase64String(bytes);
        yield return base64;
        yield return base64.TrimEnd('=');
        yield return ToUrlSafe(base64);

        if (includeShifts)
        {
            // A secret inside a longer encoded value ("x-access-token:<token>" in a Basic auth header)
            // lands at an offset of 0, 1 or 2 bytes in a 3-byte group, with more bytes after it; its
            // characters there differ from its own encoding's. The characters that also depend on
            // neighbouring bytes are cut off, which leaves what every such encoding contains.
            for (var shift = 0; shift <= 2; shift++)
            {
                var shifted = new byte[shift + bytes.Length];
                bytes.CopyTo(shifted, shift);
                var encoded = Convert.ToBase64String(shifted).TrimEnd('=');
                var start = shift switch { 0 => 0, 1 => 2, _ => 3 };
                var trailing = (shift + bytes.Length) % 3 == 0 ? 0 : 1;
                var length = encoded.Length - start - trailing;
                if (length >= MinimumShiftedBase64Length)
                {
                    var core = encoded.Substring(start, length);
                    yield return core;
                    yield return ToUrlSafe(core);
                }
            }
        }

        foreach (var form in new[]
        {
            Escaped(() => Uri.EscapeDataString(value)),
            Escaped(() => WebUtility.UrlEncode(value)),
            Escaped(() => JsonEncodedText.Encode(value).Value),
            Escaped(() => JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value),
        })
        {
            if (form is not null)
            {
                yield return form;
            }
        }
    }

    /// <summary>An escaped form, or none when the value cannot be escaped (half of a surrogate pair in a setting).</summary>
    private static string? Escaped(Func<string> escape)
    {
        try
        {
            return escape();
        }
        catch (Exception e) when (e is ArgumentException or UriFormatException or InvalidOperationException)
        {
            return null;
        }
    }

    private static string ToUrlSafe(string base64) => base64.TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>An immutable search over a fixed set of values; replaced, never changed.</summary>
    /// <remarks>
    /// A rolling hash of every 4 characters is looked up in a bitmap of the values' first 4 characters;
    /// only a hit is compared with the values. That costs the same (about a nanosecond a character)
    /// whether 3 or 300 values are registered. SearchValues&lt;string&gt; is faster with a handful of
    /// values but, measured here, falls to ~50 MB/s with the 80 or so values a deploy key and a few
    /// tokens produce (its buckets saturate and most positions become candidates).
    /// </remarks>
    private sealed class Matcher
    {
        public static readonly Matcher Empty = new(null, new Dictionary<char, string[]>());

        private const int HashBits = 20;
        private const int HashMask = (1 << HashBits) - 1;

        /// <summary>After 4 shifts of 5 bits a character has left the 20-bit hash: it covers exactly 4 characters.</summary>
        private const int Shift = 5;

        private readonly ulong[]? firstFour;
        private readonly Dictionary<char, string[]> byFirstChar;

        private Matcher(ulong[]? firstFour, Dictionary<char, string[]> byFirstChar)
        {
            this.firstFour = firstFour;
            this.byFirstChar = byFirstChar;
        }

        public static Matcher Create(IReadOnlyCollection<string> values)
        {
            if (values.Count == 0)
            {
                return Empty;
            }

            var bitmap = new ulong[1 << (HashBits - 6)];
            foreach (var value in values)
            {
                var hash = 0;
                for (var i = 0; i < MinimumLength; i++)
                {
                    hash = ((hash << Shift) ^ Fold(value[i])) & HashMask;
                }

                bitmap[hash >> 6] |= 1UL << (hash & 63);
            }

            // Longest first, so where several values start at one place the whole of the longest is masked.
            var byFirstChar = values
                .GroupBy(v => v[0])
                .ToDictionary(g => g.Key, g => g.OrderByDescending(v => v.Length).ThenBy(v => v, StringComparer.Ordinal).ToArray());
            return new Matcher(bitmap, byFirstChar);
        }

        public string Mask(string line)
        {
            if (firstFour is null)
            {
                return line;
            }

            var span = line.AsSpan();
            var first = Find(span, 0, out var length);
            if (first < 0)
            {
                return line;
            }

            // Matches that overlap or touch are merged into one masked range, so overlapping forms
            // of different secrets leave no fragment of either behind.
            var builder = new StringBuilder(line.Length);
            var copied = 0;
            var rangeStart = first;
            var rangeEnd = first + length;
            var position = first + 1;
            while (position < span.Length)
            {
                var start = Find(span, position, out length);
                if (start < 0)
                {
                    break;
                }

                if (start <= rangeEnd)
                {
                    rangeEnd = Math.Max(rangeEnd, start + length);
                }
                else
                {
                    builder.Append(span[copied..rangeStart]).Append(Replacement);
                    copied = rangeEnd;
                    rangeStart = start;
                    rangeEnd = start + length;
                }

                position = start + 1;
            }

            builder.Append(span[copied..rangeStart]).Append(Replacement).Append(span[rangeEnd..]);
            return builder.ToString();
        }

        /// <summary>The first position at or after <paramref name="from"/> where a value starts, and the longest value there.</summary>
        private int Find(ReadOnlySpan<char> span, int from, out int length)
        {
            var bitmap = firstFour!;
            length = 0;
            if (span.Length - from < MinimumLength)
            {
                return -1;
            }

            var hash = 0;
            for (var i = from; i < from + MinimumLength - 1; i++)
            {
                hash = ((hash << Shift) ^ Fold(span[i])) & HashMask;
            }

            for (var end = from + MinimumLength - 1; end < span.Length; end++)
            {
                hash = ((hash << Shift) ^ Fold(span[end])) & HashMask;
                if ((bitmap[hash >> 6] & (1UL << (hash & 63))) != 0)
                {
                    // A hit of the hash is only a candidate; the values say whether it is a match.
                    var start = end - MinimumLength + 1;
                    length = LongestAt(span, start);
                    if (length > 0)
                    {
                        return start;
                    }
                }
            }

            return -1;
        }

        private int LongestAt(ReadOnlySpan<char> span, int index)
        {
            if (byFirstChar.TryGetValue(span[index], out var candidates))
            {
                foreach (var candidate in candidates)
                {
                    if (span[index..].StartsWith(candidate, StringComparison.Ordinal))
                    {
                        return candidate.Length;
                    }
                }
            }

            return 0;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static int Fold(char c) => (c ^ (c >> 8)) & 0xFF;
    }
}
