using System.Diagnostics.CodeAnalysis;

namespace Heaven.Model;

/// <summary>A full commit id: 40 hexadecimal characters, kept lowercase so paths and comparisons agree.</summary>
internal static class CommitSha
{
    public const int Length = 40;

    /// <summary>Accepts exactly 40 hex characters (any case); a short or symbolic name is refused, because a deployment pins one commit.</summary>
    public static bool TryNormalize(string? value, [NotNullWhen(true)] out string? sha)
    {
        sha = null;
        if (value is null || value.Length != Length || !value.All(char.IsAsciiHexDigit))
        {
            return false;
        }

        sha = value.ToLowerInvariant();
        return true;
    }

    /// <summary>The first 8 characters, as Heaven shows a commit in log lines and messages.</summary>
    public static string Short(string sha) => sha.Length > 8 ? sha[..8] : sha;

    /// <summary>The first 7 characters, as GitHub shows a commit: in chat messages and auto-deploy decisions.</summary>
    public static string Abbreviated(string sha) => sha.Length > 7 ? sha[..7] : sha;
}
