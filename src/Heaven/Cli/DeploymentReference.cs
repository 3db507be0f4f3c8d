using System.Globalization;
using Heaven.Model;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Cli;

/// <summary>
/// How a command names a deployment: Heaven's own id (<c>123</c>, as in Heaven's messages and log
/// links) or GitHub's deployment id marked <c>gh:</c> (<c>gh:456789</c>, as in GitHub's API and
/// webhooks). The mark tells them apart, so a number is never guessed to be one or the other.
/// </summary>
internal sealed record DeploymentReference(long Id, bool IsGitHubId)
{
    public const string GitHubPrefix = "gh:";

    /// <summary>The words for a command's help.</summary>
    public const string Help = "Heaven's deployment id (123), or GitHub's deployment id written gh:ID (gh:456789)";

    public static DeploymentReference Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var gitHub = text.StartsWith(GitHubPrefix, StringComparison.OrdinalIgnoreCase);
        var digits = gitHub ? text[GitHubPrefix.Length..] : text;
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id <= 0)
        {
            throw new UsageException($"'{text}' is not a deployment: give Heaven's id (123) or GitHub's deployment id as gh:ID (gh:456789).");
        }

        return new DeploymentReference(id, gitHub);
    }

    public override string ToString() => IsGitHubId
        ? GitHubPrefix + Id.ToString(CultureInfo.InvariantCulture)
        : Id.ToString(CultureInfo.InvariantCulture);

    /// <summary>The deployment named, or null with the reason (none, or several repositories share that GitHub id).</summary>
    public async Task<(DeploymentRecord? Deployment, string? Problem)> FindAsync(HeavenDbContext db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        if (!IsGitHubId)
        {
            var own = await db.Deployments.AsNoTracking().SingleOrDefaultAsync(d => d.Id == Id, cancellationToken);
            return own is null ? (null, $"There is no deployment {this}.") : (own, null);
        }

        var found = await db.Deployments.AsNoTracking()
            .Where(d => d.GitHubDeploymentId == Id)
            .OrderBy(d => d.Id)
            .Take(10)
            .ToListAsync(cancellationToken);
        return found.Count switch
        {
            0 => (null, $"There is no deployment with GitHub deployment id {Id} ({this})."),
            1 => (found[0], null),
            _ => (null, $"GitHub deployment id {Id} names deployments of several repositories: {string.Join(", ", found.Select(d => $"{d.Id} ({d.Repository})"))}. Give Heaven's id instead."),
        };
    }
}
