namespace Heaven.Cli;

/// <summary>
/// A table for the terminal: every column as wide as its widest cell (the header included), two
/// spaces between columns, the last column unpadded so a long message does not drag blanks behind it.
/// </summary>
internal sealed class TableWriter(params string[] headers)
{
    private readonly List<string[]> rows = [];

    public TableWriter Add(params string[] cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        if (cells.Length != headers.Length)
        {
            throw new ArgumentException($"A row of this table has {headers.Length} cells; got {cells.Length}.", nameof(cells));
        }

        // One cell, one line: a line break in a message would break the columns.
        rows.Add([.. cells.Select(c => c.ReplaceLineEndings(" "))]);
        return this;
    }

    public void WriteTo(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var widths = headers.Select((h, column) => rows.Select(r => r[column].Length).Append(h.Length).Max()).ToArray();
        WriteRow(output, headers, widths);
        foreach (var row in rows)
        {
            WriteRow(output, row, widths);
        }
    }

    private static void WriteRow(TextWriter output, string[] cells, int[] widths)
    {
        var padded = cells.Select((cell, column) => column == cells.Length - 1 ? cell : cell.PadRight(widths[column]));
        output.WriteLine(string.Join("  ", padded).TrimEnd());
    }
}
