using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Heaven.Configuration;
using Heaven.Deployments;
using Heaven.Storage;
using Microsoft.Extensions.Options;

namespace Heaven.Web;

/// <summary>What a log link is worth when it is opened.</summary>
internal enum LogLinkCheck
{
    /// <summary>Not made by this server with its current key (wrong, tampered with, or from before a rotation).</summary>
    Invalid,

    /// <summary>Made by this server, but its lifetime is over.</summary>
    Expired,

    Valid,
}

/// <summary>
/// Links to a deployment's plain-text log that open from GitHub without a login, like a secret gist:
/// <c>/deployments/{id}/log?expires={unix seconds}&amp;token={hmac}</c>, the HMAC made over the
/// deployment id and the end of the link's life with a server key only Heaven knows (kept in the
/// database, shared by every node). A link works for <c>Heaven:LogLinkLifetime</c> after it is issued;
/// <c>heaven rotate-log-links</c> replaces the key, which ends every link issued before.
/// </summary>
internal sealed class LogLinks(IOptions<HeavenOptions> options, ServerKeyStore keys, TimeProvider time) : ILogLinks
{
    public const string KeyName = "log-links";

    public async Task<string?> LogUrlAsync(long deploymentId, CancellationToken cancellationToken)
    {
        var publicUrl = options.Value.PublicUrl;
        if (string.IsNullOrWhiteSpace(publicUrl))
        {
            return null;
        }

        var expires = (time.GetUtcNow() + options.Value.LogLinkLifetime).ToUnixTimeSeconds();
        var key = await keys.GetAsync(KeyName, cancellationToken);
        var token = Token(key, Signed(deploymentId, expires));
        return string.Create(CultureInfo.InvariantCulture, $"{publicUrl.TrimEnd('/')}/deployments/{deploymentId}/log?expires={expires}&token={token}");
    }

    /// <summary>Whether a link opens the log now.</summary>
    /// <param name="expires">The link's <c>expires</c>; null for a link issued before links expired.</param>
    /// <param name="issuedBefore">
    /// For a link without <c>expires</c>: a time it was issued no earlier than (its deployment's arrival),
    /// from which it lives <c>Heaven:LogLinkLifetime</c> like any other.
    /// </param>
    public async Task<LogLinkCheck> CheckAsync(long deploymentId, string? expires, string? token, DateTimeOffset issuedBefore, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(token))
        {
            return LogLinkCheck.Invalid;
        }

        long? end = null;
        if (expires is not null)
        {
            if (!long.TryParse(expires, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            {
                return LogLinkCheck.Invalid;
            }

            end = seconds;
        }

        var key = await keys.GetAsync(KeyName, cancellationToken);
        var expected = Encoding.ASCII.GetBytes(Token(key, end is { } e ? Signed(deploymentId, e) : LegacySigned(deploymentId)));
        if (!CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(token)))
        {
            return LogLinkCheck.Invalid;
        }

        var now = time.GetUtcNow();
        var validUntil = end is { } signedEnd ? DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(signedEnd, 0, DateTimeOffset.MaxValue.ToUnixTimeSeconds())) : issuedBefore + options.Value.LogLinkLifetime;
        return now < validUntil ? LogLinkCheck.Valid : LogLinkCheck.Expired;
    }

    /// <summary>Replaces the key: every link issued before no longer opens anything.</summary>
    /// <returns>When the new key was made.</returns>
    public Task<DateTime> RotateAsync(CancellationToken cancellationToken) => keys.RotateAsync(KeyName, cancellationToken);

    private static string Signed(long deploymentId, long expires) =>
        string.Create(CultureInfo.InvariantCulture, $"deployment-log:{deploymentId}:{expires}");

    /// <summary>What links made before they expired signed: the id alone.</summary>
    private static string LegacySigned(long deploymentId) => string.Create(CultureInfo.InvariantCulture, $"deployment-log:{deploymentId}");

    private static string Token(byte[] key, string signed) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(signed)).AsSpan(0, 20));
}
