using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Heaven.Intake;

/// <summary>Which repositories' events Heaven acts on (<c>Webhooks:AllowedRepositories</c>).</summary>
public sealed partial class RepositoryAllowList(IOptions<WebhookOptions> options)
{
    private readonly string[] patterns = options.Value.AllowedRepositories.Select(p => p.Trim()).ToArray();

    /// <summary>True when no list is configured, or the repository matches an entry.</summary>
    public bool Allows(string? repositoryFullName)
    {
        if (patterns.Length == 0)
        {
            return true;
        }

        if (string.IsNullOrEmpty(repositoryFullName))
        {
            // Events without a repository (an organisation hook's ping) carry nothing to deploy.
            return true;
        }

        foreach (var pattern in patterns)
        {
            if (pattern.EndsWith("/*", StringComparison.Ordinal))
            {
                var owner = pattern[..^1];
                if (repositoryFullName.StartsWith(owner, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
            else if (string.Equals(pattern, repositoryFullName, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    public static bool IsValidPattern(string pattern) => PatternShape().IsMatch(pattern.Trim());

    // GitHub owners are letters, digits and '-'; repository names add '.' and '_'.
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9-]*/(\*|[A-Za-z0-9._-]+)$")]
    private static partial Regex PatternShape();
}
