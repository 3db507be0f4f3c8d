using System.Globalization;
using Heaven.GitHub;

namespace Heaven.Access;

/// <summary>Who may sign in with GitHub: the <c>Web:Allowed*</c> lists, and the original's <c>GitHub:Organization</c> and <c>GitHub:TeamId</c>.</summary>
internal sealed class SignInPolicy(WebOptions web, GitHubOptions github)
{
    public bool AnyoneConfigured => web.AllowedUsers.Count > 0 || NeedsOrganizations || NeedsTeams;

    public bool NeedsOrganizations => web.AllowedOrganizations.Count > 0 || !string.IsNullOrWhiteSpace(github.Organization);

    public bool NeedsTeams => web.AllowedTeams.Count > 0 || !string.IsNullOrWhiteSpace(github.TeamId);

    public bool IsLoginAllowed(string login) => web.AllowedUsers.Contains(login, StringComparer.OrdinalIgnoreCase);

    /// <summary>Null when <paramref name="user"/> may sign in; otherwise why not, in words for the refused user.</summary>
    public string? Refusal(GitHubIdentity user)
    {
        if (!AnyoneConfigured)
        {
            return "Sign-in is not configured on this Heaven: nobody may sign in until an operator lists users, organizations or teams (Web:AllowedUsers, Web:AllowedOrganizations, Web:AllowedTeams).";
        }

        if (IsLoginAllowed(user.Login))
        {
            return null;
        }

        var organizations = web.AllowedOrganizations.Append(github.Organization).OfType<string>().Where(o => o.Length > 0);
        if (user.Organizations.Any(o => organizations.Contains(o, StringComparer.OrdinalIgnoreCase)))
        {
            return null;
        }

        var teams = web.AllowedTeams.Select(TeamName.Parse).OfType<TeamName>().ToList();
        if (user.Teams.Any(t => teams.Any(allowed => string.Equals(allowed.Organization, t.Organization, StringComparison.OrdinalIgnoreCase) && string.Equals(allowed.Slug, t.Slug, StringComparison.OrdinalIgnoreCase))))
        {
            return null;
        }

        if (long.TryParse(github.TeamId, NumberStyles.None, CultureInfo.InvariantCulture, out var teamId) && user.Teams.Any(t => t.Id == teamId))
        {
            return null;
        }

        return $"{user.Login} may not sign in to this Heaven: the login is not in Web:AllowedUsers and is not a member of an organization or team allowed by Web:AllowedOrganizations, Web:AllowedTeams, GitHub:Organization or GitHub:TeamId. Ask an operator of this Heaven to add you.";
    }
}
