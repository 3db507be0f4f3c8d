using System.Text;
using Heaven.Model;

namespace Heaven.Cli;

/// <summary>
/// The one way the <c>heaven</c> command's text leaves it: whole lines, each through the server's
/// masker once Heaven's configuration is known (<see cref="MaskWith"/>). A line is held until its
/// newline (or <see cref="Flush"/>), so a secret written in pieces is masked as a whole.
/// </summary>
internal sealed class MaskingWriter(TextWriter inner) : TextWriter
{
    private readonly Lock gate = new();
    private readonly StringBuilder line = new();
    private ISecretMasker? masker;

    public override Encoding Encoding => inner.Encoding;

    /// <summary>From now on lines are masked with <paramref name="secretMasker"/>; before, nothing was configured to mask.</summary>
    public void MaskWith(ISecretMasker secretMasker)
    {
        ArgumentNullException.ThrowIfNull(secretMasker);
        lock (gate)
        {
            masker = secretMasker;
        }
    }

    public override void Write(char value)
    {
        lock (gate)
        {
            Append([value]);
        }
    }

    public override void Write(char[] buffer, int index, int count) => Write(new ReadOnlySpan<char>(buffer, index, count));

    public override void Write(ReadOnlySpan<char> buffer)
    {
        lock (gate)
        {
            Append(buffer);
        }
    }

    public override void Write(string? value) => Write(value.AsSpan());

    public override void WriteLine(string? value)
    {
        lock (gate)
        {
            Append(value.AsSpan());
            Append(CoreNewLine);
        }
    }

    /// <summary>Writes the unfinished line too (masked as it stands) and flushes the terminal.</summary>
    public override void Flush()
    {
        lock (gate)
        {
            if (line.Length > 0)
            {
                inner.Write(Masked(line.ToString()));
                line.Clear();
            }

            inner.Flush();
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Flush();
        }

        base.Dispose(disposing);
    }

    private void Append(ReadOnlySpan<char> text)
    {
        while (text.Length > 0)
        {
            var newline = text.IndexOf('\n');
            if (newline < 0)
            {
                line.Append(text);
                return;
            }

            line.Append(text[..(newline + 1)]);
            EmitLine();
            text = text[(newline + 1)..];
        }
    }

    private void EmitLine()
    {
        // The line's end stays as written ("\r\n" or "\n"); only its text is masked.
        var text = line.ToString();
        var end = text.EndsWith("\r\n", StringComparison.Ordinal) ? 2 : 1;
        inner.Write(Masked(text[..^end]));
        inner.Write(text.AsSpan(text.Length - end));
        line.Clear();
    }

    private string Masked(string text) => masker is null ? text : masker.Mask(text);
}
