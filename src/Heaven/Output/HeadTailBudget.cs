namespace Heaven.Output;

/// <summary>
/// "Keep the head and the tail": how an over-long output stays within its size, for the stored log
/// and the gist alike. The first half of the budget keeps the first lines, the other half the last
/// ones, and one line between them says how much was left out.
/// </summary>
/// <remarks>
/// <para>The head takes lines while they fit; the first line that does not closes it for good, and it
/// and every later line belong to the tail. The tail gives up its oldest lines while it holds more
/// than its half (<see cref="TailExcess"/>): the log lets whole stored chunks go, the gist whole
/// chunks and then single lines, but the rule is this one.</para>
/// <para>Callers count a line's bytes their own way (the stored log counts its stream character too).
/// <see cref="TryTakeIntoHead"/> changes the head's state and is the caller's to guard; the limits,
/// <see cref="TailExcess"/> and <see cref="Marker"/> never change anything and may be used from any thread.</para>
/// </remarks>
internal sealed class HeadTailBudget
{
    public HeadTailBudget(long maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 2);
        HeadLimit = maxBytes / 2;
        TailLimit = maxBytes - HeadLimit;
    }

    /// <summary>What the head keeps at most.</summary>
    public long HeadLimit { get; }

    /// <summary>What the tail keeps at most.</summary>
    public long TailLimit { get; }

    /// <summary>Whether lines still go to the head.</summary>
    public bool InHead { get; private set; } = true;

    /// <summary>What the head holds.</summary>
    public long HeadBytes { get; private set; }

    /// <summary>
    /// Takes a line of <paramref name="bytes"/> into the head when it fits. False for the first line
    /// that does not fit (which closes the head) and for every line after it: they belong to the tail.
    /// </summary>
    public bool TryTakeIntoHead(long bytes)
    {
        if (InHead && HeadBytes + bytes <= HeadLimit)
        {
            HeadBytes += bytes;
            return true;
        }

        InHead = false;
        return false;
    }

    /// <summary>How many bytes the tail holds beyond its half: its oldest lines worth that much are elided.</summary>
    public long TailExcess(long tailBytes) => tailBytes > TailLimit ? tailBytes - TailLimit : 0;

    /// <summary>
    /// The line between the head and the tail: how much was elided (in the bytes of text and newlines
    /// a reader would have seen), what <paramref name="keeper"/> keeps, and where the rest is, when known.
    /// </summary>
    public string Marker(long elidedBytes, long elidedLines, string keeper, string? wholeLogUrl = null) =>
        $"[Heaven: {LogText.Count(elidedBytes)} bytes ({LogText.Count(elidedLines)} lines) of output elided here; {keeper} keeps the first and last {LogText.Size(HeadLimit)}"
        + (wholeLogUrl is null ? "" : $"; the whole log: {wholeLogUrl}")
        + "]";
}
