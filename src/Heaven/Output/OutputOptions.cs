using Heaven.Configuration;

namespace Heaven.Output;

/// <summary>How deploy output is kept and mirrored. Section <c>Output</c>.</summary>
public sealed class OutputOptions : ISelfValidatingOptions
{
    public const string Section = "Output";

    public const long DefaultMaxLogBytes = 50L * 1024 * 1024;

    /// <summary>
    /// The most a deployment's stored log holds, in UTF-8 bytes. Beyond it the first and the last half
    /// are kept and a line in between says how much was left out.
    /// </summary>
    public long MaxLogBytes { get; set; } = DefaultMaxLogBytes;

    /// <summary>Whether each deployment's output is mirrored to a secret gist (the original Heaven's log link).</summary>
    public bool MirrorToGist { get; set; } = true;

    /// <summary>The shortest time between two updates of a deployment's gist while it runs.</summary>
    public TimeSpan GistUpdateInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The most a gist holds, in UTF-8 bytes (first and last half, like the log). The gist is a
    /// convenience copy; the complete log stays on Heaven.
    /// </summary>
    public long GistMaxBytes { get; set; } = 4_000_000;

    public IEnumerable<string> Validate()
    {
        if (MaxLogBytes is < 65_536 or > 10L * 1024 * 1024 * 1024)
        {
            yield return $"{Setting.Name("Output:MaxLogBytes")} must be a number of bytes from 65536 (64 KB) to 10737418240 (10 GB); got {MaxLogBytes}.";
        }

        if (GistUpdateInterval < TimeSpan.FromSeconds(1) || GistUpdateInterval > TimeSpan.FromHours(1))
        {
            yield return $"{Setting.Name("Output:GistUpdateInterval")} must be a duration from 00:00:01 to 01:00:00 (GitHub limits how often content may be written); got {GistUpdateInterval}.";
        }

        if (GistMaxBytes is < 100_000 or > GistMirror.MaxGistBytes)
        {
            yield return $"{Setting.Name("Output:GistMaxBytes")} must be a number of bytes from 100000 to {GistMirror.MaxGistBytes} (at most {GistMirror.MaxFiles} files under GitHub's 1 MB limit); got {GistMaxBytes}.";
        }
    }
}
