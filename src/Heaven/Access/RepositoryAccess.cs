using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.Extensions.Options;

namespace Heaven.Access;

/// <summary>What someone may do with one repository through Heaven.</summary>
public enum RepositoryPermission
{
    None = 0,

    /// <summary>See its deployments and logs.</summary>
    Read = 1,

    /// <summary>Also deploy, cancel, lock and unlock.</summary>
    Deploy = 2,
}

/// <summary>Per-repository permissions of signed-in users and tokens.</summary>
public interface IRepositoryAccess
{
    /// <summary>
    /// For a GitHub user, their role on the repository as GitHub tells Heaven (admin, maintain, write:
    /// Deploy; triage, read: Read; otherwise None); for a token, its scope, on every repository.
    /// </summary>
    Task<RepositoryPermission> GetAsync(ClaimsPrincipal principal, string repository, CancellationToken cancellationToken);

    /// <summary>An <c>admin</c> token, or a GitHub login listed in <c>Web:Administrators</c>.</summary>
    bool IsAdmin(ClaimsPrincipal principal);
}

internal sealed class RepositoryAccess(GitHubUserApi github, IOptionsMonitor<WebOptions> options, TimeProvider time, ILogger<RepositoryAccess> logger) : IRepositoryAccess
{
    private readonly ConcurrentDictionary<(string Login, string Repository), (RepositoryPermission Permission, DateTimeOffset Until)> cache = new();

    public async Task<RepositoryPermission> GetAsync(ClaimsPrincipal principal, string repository, CancellationToken cancellationToken)
    {
        var user = HeavenUser.From(principal);
        if (user is null || repository.Split('/') is not [{ Length: > 0 }, { Length: > 0 }])
        {
            return RepositoryPermission.None;
        }

        if (user.Kind == HeavenUserKind.Token)
        {
            return user.Scope >= TokenScope.Deploy ? RepositoryPermission.Deploy : RepositoryPermission.Read;
        }

        var key = (user.Name.ToLowerInvariant(), repository.ToLowerInvariant());
        var now = time.GetUtcNow();
        if (cache.TryGetValue(key, out var cached) && cached.Until > now)
        {
            return cached.Permission;
        }

        RepositoryPermission permission;
        try
        {
            permission = await github.GetRoleAsync(repository, user.Name, cancellationToken) switch
            {
                "admin" or "maintain" or "write" => RepositoryPermission.Deploy,
                "triage" or "read" => RepositoryPermission.Read,
                _ => RepositoryPermission.None,
            };
        }
        catch (HttpRequestException e)
        {
            // Unknown is no permission, and not remembered: the next request asks again.
            logger.LogWarning("GitHub did not say what {Login} may do on {Repository} ({Error}); treated as no permission.", user.Name, repository, e.StatusCode?.ToString() ?? e.GetType().Name);
            return RepositoryPermission.None;
        }

        var seconds = options.CurrentValue.PermissionCacheSeconds;
        if (seconds > 0)
        {
            cache[key] = (permission, now.AddSeconds(seconds));
        }

        return permission;
    }

    public bool IsAdmin(ClaimsPrincipal principal) => HeavenUser.From(principal) switch
    {
        { Kind: HeavenUserKind.Token, Scope: TokenScope.Admin } => true,
        { Kind: HeavenUserKind.GitHub } user => options.CurrentValue.Administrators.Contains(user.Name, StringComparer.OrdinalIgnoreCase),
        _ => false,
    };
}
