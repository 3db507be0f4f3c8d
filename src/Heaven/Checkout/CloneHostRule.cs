using Heaven.GitHub;

namespace Heaven.Checkout;

/// <summary>
/// Where a deployment may be fetched from: the clone URL comes from the payload, and a payload naming
/// any server (or a path on this machine) would make Heaven fetch and run code from it. Only the
/// configured GitHub's host (<c>GitHub:WebUrl</c>), the hosts of <c>GitHub:CloneHosts</c>, and local
/// repositories where <c>Checkout:AllowLocalRepositories</c> says so.
/// </summary>
internal static class CloneHostRule
{
    /// <summary>Why <paramref name="source"/> may not be fetched, or null when it may. Names the host, never the URL.</summary>
    public static string? Problem(CloneSource source, GitHubOptions github, bool allowLocalRepositories)
    {
        if (source.Scheme == "file")
        {
            return allowLocalRepositories
                ? null
                : "the clone URL is a local repository (file://), which is only fetched with Checkout:AllowLocalRepositories=true";
        }

        var gitHubHost = Uri.TryCreate(github.WebUrl, UriKind.Absolute, out var web) ? Bare(web.Host) : "";
        var host = Bare(source.Host);
        if (Same(host, gitHubHost) || github.CloneHosts.Any(h => Same(host, Bare(h.Trim()))))
        {
            return null;
        }

        // The host has passed CloneSource's checks (letters, digits, '-', '.', or an IPv6 address): safe to quote.
        return $"clone URL host {source.Host} is not GitHub:WebUrl's host ({gitHubHost}); add it to GitHub:CloneHosts";
    }

    private static string Bare(string host) => host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;

    private static bool Same(string a, string b) => a.Length > 0 && string.Equals(a, b, StringComparison.OrdinalIgnoreCase);
}
