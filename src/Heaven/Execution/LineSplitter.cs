using System.Text;

namespace Heaven.Execution;

/// <summary>
/// Turns the bytes of one output stream into lines. Lines end at <c>\n</c> (a <c>\r</c> before it is
/// dropped); a line longer than the bound is emitted in pieces, so output with no newline for megabytes
/// cannot grow without bound; invalid UTF-8 becomes U+FFFD rather than an exception. One decoder per
/// stream keeps a multi-byte character whole when a read ends in the middle of it. A lone <c>\r</c>
/// (progress bars) stays inside the line.
/// </summary>
internal sealed class LineSplitter
{
    private static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    private readonly Decoder decoder = Utf8.GetDecoder();
    private readonly int maxLineLength;
    private readonly StringBuilder pending = new();
    private readonly char[] chars = new char[4096];

    // Set when the current line was cut at the bound: if all that is left of it is the "\r" of its
    // "\r\n", the cut already emitted the line and no empty line follows.
    private bool cut;

    public LineSplitter(int maxLineLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineLength, 2);
        this.maxLineLength = maxLineLength;
    }

    /// <summary>Adds bytes read from the stream; complete lines are appended to <paramref name="lines"/>.</summary>
    public void Push(ReadOnlySpan<byte> bytes, List<string> lines) => Decode(bytes, flush: false, lines);

    /// <summary>End of the stream: an incomplete character becomes U+FFFD and a last line without newline is emitted.</summary>
    public void Finish(List<string> lines)
    {
        Decode([], flush: true, lines);
        if (pending.Length > 0)
        {
            EndLine(lines);
        }

        cut = false;
    }

    private void Decode(ReadOnlySpan<byte> bytes, bool flush, List<string> lines)
    {
        bool completed;
        do
        {
            decoder.Convert(bytes, chars, flush, out var bytesUsed, out var charsUsed, out completed);
            Split(chars.AsSpan(0, charsUsed), lines);
            bytes = bytes[bytesUsed..];
        }
        while (!bytes.IsEmpty || (flush && !completed));
    }

    private void Split(ReadOnlySpan<char> text, List<string> lines)
    {
        while (!text.IsEmpty)
        {
            var newline = text.IndexOf('\n');
            if (newline < 0)
            {
                Append(text, lines);
                return;
            }

            Append(text[..newline], lines);
            EndLine(lines);
            text = text[(newline + 1)..];
        }
    }

    private void Append(ReadOnlySpan<char> text, List<string> lines)
    {
        while (pending.Length + text.Length > maxLineLength)
        {
            var take = maxLineLength - pending.Length;
            pending.Append(text[..take]);
            text = text[take..];
            // Never cut between the two halves of a surrogate pair (an emoji would become two U+FFFD):
            // a high surrogate at the cut moves on to the next piece.
            var carry = char.IsHighSurrogate(pending[^1]);
            lines.Add(pending.ToString(0, carry ? pending.Length - 1 : pending.Length));
            pending.Remove(0, carry ? pending.Length - 1 : pending.Length);
            cut = true;
        }

        pending.Append(text);
    }

    private void EndLine(List<string> lines)
    {
        if (pending.Length > 0 && pending[^1] == '\r')
        {
            pending.Length--;
        }

        if (pending.Length > 0 || !cut)
        {
            lines.Add(pending.ToString());
        }

        pending.Clear();
        cut = false;
    }
}
