namespace Heaven.Output;

/// <summary>
/// A run of consecutive output lines of one deployment, stored together so a chatty deploy costs few
/// rows. Any node can serve a log from these; <see cref="FirstLine"/> lets a reader resume by line number.
/// </summary>
public sealed class DeploymentLogChunk
{
    public long Id { get; set; }

    public long DeploymentId { get; set; }

    /// <summary>Order of the chunk within its deployment's log.</summary>
    public int Sequence { get; set; }

    /// <summary>Number of the chunk's first line in the whole log (0-based).</summary>
    public long FirstLine { get; set; }

    public int LineCount { get; set; }

    /// <summary>The masked lines, each prefixed with its stream ('o' stdout, 'e' stderr, 'h' Heaven) and ended by '\n'.</summary>
    public required string Content { get; set; }

    public DateTime CreatedAt { get; set; }
}
