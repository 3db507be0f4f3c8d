using System.Globalization;
using Heaven.Configuration;

namespace Heaven.Access;

/// <summary>Who may sign in to Heaven's pages and API, and who administers it. Section <c>Web</c>.</summary>
/// <remarks>
/// Sign-in is allowed by any of the lists (or by <c>GitHub:Organization</c> / <c>GitHub:TeamId</c>, the
/// original's settings); with none of them set nobody signs in.
/// </remarks>
public sealed class WebOptions : ISelfValidatingOptions
{
    public const string Section = "Web";

    /// <summary>GitHub logins that may sign in.</summary>
    public List<string> AllowedUsers { get; set; } = [];

    /// <summary>GitHub organizations whose members may sign in.</summary>
    public List<string> AllowedOrganizations { get; set; } = [];

    /// <summary>Teams whose members may sign in, as <c>organization/team-slug</c>.</summary>
    public List<string> AllowedTeams { get; set; } = [];

    /// <summary>GitHub logins that may do what an <c>admin</c> token may: manage tokens, redeliver.</summary>
    public List<string> Administrators { get; set; } = [];

    /// <summary>How long GitHub's answer on a user's permission for a repository is reused.</summary>
    public int PermissionCacheSeconds { get; set; } = 60;

    /// <summary>How long a sign-in lasts before the user goes through GitHub again (and the allow-lists are checked again).</summary>
    public int SessionHours { get; set; } = 8;

    public IEnumerable<string> Validate()
    {
        if (PermissionCacheSeconds is < 0 or > 3600)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"Web:PermissionCacheSeconds must be a number of seconds from 0 to 3600; got {PermissionCacheSeconds}.");
        }

        if (SessionHours is < 1 or > 24 * 30)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"Web:SessionHours must be a number of hours from 1 to 720; got {SessionHours}.");
        }

        foreach (var team in AllowedTeams.Where(t => TeamName.Parse(t) is null))
        {
            yield return $"Web:AllowedTeams entries are organization/team-slug, such as octo-org/deployers; got '{team}'.";
        }

        foreach (var login in AllowedUsers.Concat(Administrators).Concat(AllowedOrganizations).Where(l => !IsGitHubName(l)))
        {
            yield return $"Web:AllowedUsers, Web:AllowedOrganizations and Web:Administrators hold GitHub logins and organization names (letters, digits, hyphens); got '{login}'.";
        }
    }

    internal static bool IsGitHubName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 100 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}

/// <summary>A team named as <c>organization/team-slug</c>.</summary>
internal sealed record TeamName(string Organization, string Slug)
{
    public static TeamName? Parse(string? text)
    {
        var parts = (text ?? "").Split('/');
        return parts.Length == 2 && WebOptions.IsGitHubName(parts[0]) && WebOptions.IsGitHubName(parts[1]) ? new TeamName(parts[0], parts[1]) : null;
    }

    public override string ToString() => $"{Organization}/{Slug}";
}
