using System.Globalization;
using System.Text;

namespace Heaven.Intake;

/// <summary>
/// The rule for names from a payload that Heaven writes into its logs and messages (repository,
/// environment, ref, task, ...): no character that could start a forged log line or hide what a line
/// says. Refused: control characters (U+0000–U+001F, U+007F–U+009F, which include CR, LF, ESC and
/// U+0085), the line and paragraph separators U+2028 and U+2029, invisible format characters
/// (bidirectional overrides and isolates, zero-width spaces, tag characters) and unpaired surrogates.
/// The zero-width joiner and non-joiner (U+200D, U+200C) stay allowed: emoji sequences and several
/// scripts need them, and they cannot break or reorder a line.
/// </summary>
internal static class LoggedName
{
    /// <summary>What is wrong with <paramref name="value"/> (naming the character by code point), or null when it may be logged.</summary>
    public static string? Problem(string value)
    {
        var index = 0;
        while (index < value.Length)
        {
            if (Rune.DecodeFromUtf16(value.AsSpan(index), out var rune, out var consumed) != System.Buffers.OperationStatus.Done)
            {
                return $"an unpaired surrogate (U+{(int)value[index]:X4})";
            }

            var kind = rune.Value is 0x200C or 0x200D ? null : Rune.GetUnicodeCategory(rune) switch
            {
                UnicodeCategory.Control => "a control character",
                UnicodeCategory.LineSeparator => "a line separator",
                UnicodeCategory.ParagraphSeparator => "a paragraph separator",
                UnicodeCategory.Format => "an invisible format character",
                _ => null,
            };
            if (kind is not null)
            {
                return $"{kind} (U+{rune.Value:X4})";
            }

            index += consumed;
        }

        return null;
    }
}
