using Heaven.Configuration;

namespace Heaven.GitHub;

/// <summary>How Heaven reaches GitHub (or GitHub Enterprise). Section <c>GitHub</c>.</summary>
public sealed class GitHubOptions : ISelfValidatingOptions
{
    public const string Section = "GitHub";

    /// <summary>A token that may post deployment statuses and create gists. Never logged.</summary>
    public string? Token { get; set; }

    /// <summary>REST API base URL; GitHub Enterprise uses <c>https://host/api/v3</c>.</summary>
    public string ApiUrl { get; set; } = "https://api.github.com/";

    public string WebUrl { get; set; } = "https://github.com/";

    /// <summary>
    /// Hosts besides <see cref="WebUrl"/>'s that a deployment's clone URL may point at (a git server of
    /// GitHub Enterprise on a host of its own, an ssh host name). Host names only: no scheme, port or path.
    /// </summary>
    public List<string> CloneHosts { get; set; } = [];

    public string? ClientId { get; set; }

    public string? ClientSecret { get; set; }

    public string? TeamId { get; set; }

    public string? Organization { get; set; }

    /// <summary>How long one request to GitHub may take before it counts as a transient failure and is retried.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public IEnumerable<string> Validate()
    {
        if (!Setting.IsAbsoluteHttpUrl(ApiUrl))
        {
            yield return $"{Setting.Name("GitHub:ApiUrl")} must be an absolute http(s) URL such as https://api.github.com/ or https://github.example.com/api/v3; got '{ApiUrl}'.";
        }

        if (!Setting.IsAbsoluteHttpUrl(WebUrl))
        {
            yield return $"{Setting.Name("GitHub:WebUrl")} must be an absolute http(s) URL such as https://github.com/; got '{WebUrl}'.";
        }

        foreach (var host in CloneHosts.Where(h => !IsHostName(h)))
        {
            yield return $"GitHub:CloneHosts entries are host names such as git.example.com (no scheme, port or path); got '{host}'.";
        }

        if (RequestTimeout <= TimeSpan.Zero)
        {
            yield return $"GitHub:RequestTimeout must be a positive duration such as 00:00:30; got '{RequestTimeout}'.";
        }

        if (!string.IsNullOrWhiteSpace(TeamId) && !long.TryParse(TeamId, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
        {
            yield return $"{Setting.Name("GitHub:TeamId")} must be a team's numeric id (GET /orgs/ORG/teams/SLUG shows it; Web:AllowedTeams takes org/team-slug); got '{TeamId}'.";
        }

        if (Token is { } token && token.Any(char.IsWhiteSpace))
        {
            // The value itself is a secret: say what is wrong without echoing it.
            yield return $"{Setting.Name("GitHub:Token")} contains whitespace; paste the token without spaces or line breaks.";
        }
    }

    /// <summary>A DNS name or an IPv4 address, or an IPv6 address in brackets, as a clone URL names its host.</summary>
    internal static bool IsHostName(string? host) =>
        !string.IsNullOrEmpty(host)
        && (host.StartsWith('[')
            ? host.EndsWith(']') && host.Length > 2 && host[1..^1].All(c => char.IsAsciiHexDigit(c) || c is ':' or '.')
            : !host.StartsWith('-') && host.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.'));
}
