using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Heaven.Configuration;
using Heaven.Deployments;
using Heaven.Storage;
using Microsoft.Extensions.Options;

namespace Heaven.Web;

/// <summary>
/// Links to a deployment's plain-text log that open from GitHub without a login, like a secret gist:
/// the link carries an HMAC of the deployment id made with a server key only Heaven knows.
/// </summary>
internal sealed class LogLinks(IOptions<HeavenOptions> options, ServerKeyStore keys) : ILogLinks
{
    public const string KeyName = "log-links";

    public async Task<string?> LogUrlAsync(long deploymentId, CancellationToken cancellationToken)
    {
        var publicUrl = options.Value.PublicUrl;
        if (string.IsNullOrWhiteSpace(publicUrl))
        {
            return null;
        }

        var token = await TokenAsync(deploymentId, cancellationToken);
        return string.Create(CultureInfo.InvariantCulture, $"{publicUrl.TrimEnd('/')}/deployments/{deploymentId}/log?token={token}");
    }

    public async Task<bool> IsValidAsync(long deploymentId, string? token, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(token))
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(await TokenAsync(deploymentId, cancellationToken));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(token));
    }

    private async Task<string> TokenAsync(long deploymentId, CancellationToken cancellationToken)
    {
        var key = await keys.GetAsync(KeyName, cancellationToken);
        var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"deployment-log:{deploymentId}")));
        return Convert.ToHexStringLower(mac.AsSpan(0, 20));
    }
}
