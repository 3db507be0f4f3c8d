using System.Security.Cryptography;
using System.Text;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Access;

/// <summary>A token just made: <see cref="Text"/> is shown once and stored nowhere.</summary>
public sealed record CreatedApiToken(ApiToken Token, string Text);

/// <summary>Why a token was not made.</summary>
public sealed class ApiTokenException(string message) : Exception(message);

/// <summary>API tokens: made, listed, revoked, and checked on every request that presents one.</summary>
public sealed class ApiTokens(IHeavenDatabase database, TimeProvider time)
{
    /// <summary>What every token starts with, so a leaked one is recognised (secret scanners, logs).</summary>
    public const string Prefix = "heaven_";

    /// <summary>How often the last use of a token is written: not on every request.</summary>
    private static readonly TimeSpan LastUsedResolution = TimeSpan.FromMinutes(1);

    public async Task<CreatedApiToken> CreateAsync(string name, TokenScope scope, TimeSpan? lifetime, string createdBy, CancellationToken cancellationToken)
    {
        if (!IsValidName(name))
        {
            throw new ApiTokenException($"A token's name is 1 to 100 letters, digits, '-', '_' or '.'; got '{name}'.");
        }

        if (lifetime is { } l && l <= TimeSpan.Zero)
        {
            throw new ApiTokenException("A token's lifetime must be positive.");
        }

        var text = Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var now = time.GetUtcNow().UtcDateTime;
        var token = new ApiToken
        {
            Name = name,
            TokenHash = Hash(text),
            Scope = scope,
            CreatedAt = now,
            ExpiresAt = lifetime is { } span ? now + span : null,
            CreatedBy = createdBy,
        };
        await using var db = await database.OpenAsync(cancellationToken);
        if (await db.ApiTokens.AnyAsync(t => t.Name == name, cancellationToken))
        {
            throw new ApiTokenException($"A token named '{name}' exists already; revoke it first or choose another name.");
        }

        db.ApiTokens.Add(token);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException e) when (DatabaseErrors.IsUniqueViolation(e))
        {
            throw new ApiTokenException($"A token named '{name}' exists already; revoke it first or choose another name.");
        }

        return new CreatedApiToken(token, text);
    }

    public async Task<IReadOnlyList<ApiToken>> ListAsync(CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        return await db.ApiTokens.AsNoTracking().OrderBy(t => t.Name).ToListAsync(cancellationToken);
    }

    /// <returns>Whether a token of that name existed; it no longer works, from the next request on.</returns>
    public async Task<bool> RevokeAsync(string name, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        return await db.ApiTokens.Where(t => t.Name == name).ExecuteDeleteAsync(cancellationToken) > 0;
    }

    /// <summary>The token <paramref name="text"/> names, if it exists and has not expired; null otherwise.</summary>
    public async Task<ApiToken?> AuthenticateAsync(string? text, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(text) || !text.StartsWith(Prefix, StringComparison.Ordinal) || text.Length > 200)
        {
            return null;
        }

        var hash = Hash(text);
        await using var db = await database.OpenAsync(cancellationToken);
        var token = await db.ApiTokens.AsNoTracking().SingleOrDefaultAsync(t => t.TokenHash == hash, cancellationToken);
        // The lookup found the row by its hash; the comparison still takes the same time for every input.
        if (token is null || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(token.TokenHash), Encoding.ASCII.GetBytes(hash)))
        {
            return null;
        }

        var now = time.GetUtcNow().UtcDateTime;
        if (token.ExpiresAt is { } expires && expires <= now)
        {
            return null;
        }

        if (token.LastUsedAt is not { } used || now - used >= LastUsedResolution)
        {
            await db.ApiTokens.Where(t => t.Id == token.Id).ExecuteUpdateAsync(set => set.SetProperty(t => t.LastUsedAt, now), cancellationToken);
            token.LastUsedAt = now;
        }

        return token;
    }

    public static bool IsValidName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 100 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    public static bool TryParseScope(string? text, out TokenScope scope)
    {
        scope = text switch
        {
            "read" => TokenScope.Read,
            "deploy" => TokenScope.Deploy,
            "admin" => TokenScope.Admin,
            _ => 0,
        };
        return scope != 0;
    }

    public static string ScopeName(TokenScope scope) => scope.ToString().ToLowerInvariant();

    /// <summary>What a scope allows, in words, for the one who makes or lists tokens.</summary>
    public static string Describe(TokenScope scope) => scope switch
    {
        TokenScope.Read => "read deployments, logs and locks of every repository",
        TokenScope.Deploy => "read, and deploy, cancel, lock and unlock on every repository",
        _ => "everything: read, deploy, manage API tokens and redeliver webhooks",
    };

    internal static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
