using System.Data.Common;
using Heaven.Configuration;

namespace Heaven.Masking;

/// <summary>The secrets in Heaven's configuration, which no deploy output may show.</summary>
internal static class ConfiguredSecrets
{
    /// <summary>The dpl provider's secrets, by dpl provider and variable name.</summary>
    private const string SecretsSection = "Providers:Dpl:Secrets:";

    /// <summary>Each repository's own deploy key: <c>Repositories:&lt;owner/name&gt;:DeployKey</c> (or the owner and name nested).</summary>
    private const string RepositoriesSection = "Repositories:";
    private const string RepositoryKeyName = ":DeployKey";

    /// <summary>A setting (or environment variable) whose last name part contains one of these holds a secret.</summary>
    private static readonly string[] SecretWords = ["Secret", "Token", "Password", "ApiKey", "PrivateKey", "Passwd", "Credential"];

    /// <summary>
    /// Names that contain a secret word but hold something else: where a secret lives
    /// (<c>PASSWORD_STORE_DIR</c>, <c>GitHub:PrivateKeyPath</c>) or which one (<c>TokenId</c>).
    /// </summary>
    private static readonly string[] NotSecretSuffixes = ["Path", "File", "FileName", "Dir", "Directory", "Name", "Id", "Url", "Uri", "Type", "Expiry", "Timeout", "Enabled"];

    public static IEnumerable<string> From(IConfiguration configuration)
    {
        foreach (var key in SecretSettings.Keys)
        {
            if (configuration[key] is { Length: > 0 } value)
            {
                yield return value;
            }
        }

        foreach (var (key, value) in configuration.AsEnumerable())
        {
            // Everything under a secrets section is a secret, whatever its name says (SURGE_LOGIN); so is
            // a repository's deploy key, which "DeployKey" does not say.
            if (!string.IsNullOrEmpty(value)
                && (key.StartsWith(SecretsSection, StringComparison.OrdinalIgnoreCase)
                    || (key.StartsWith(RepositoriesSection, StringComparison.OrdinalIgnoreCase) && key.EndsWith(RepositoryKeyName, StringComparison.OrdinalIgnoreCase))))
            {
                yield return value;
                continue;
            }

            if (!string.IsNullOrEmpty(value) && NamesASecret(key) && LooksLikeASecret(value))
            {
                yield return value;
            }
        }

        if (PasswordInUrl(configuration["Database:Url"]) is { } urlPassword)
        {
            yield return urlPassword;
        }

        if (PasswordInConnectionString(configuration["Database:ConnectionString"]) is { } password)
        {
            yield return password;
        }
    }

    internal static bool NamesASecret(string key)
    {
        var name = key[(key.LastIndexOf(':') + 1)..];
        var compact = name.Replace("_", "", StringComparison.Ordinal);
        return SecretWords.Any(word => compact.Contains(word, StringComparison.OrdinalIgnoreCase))
            && !NotSecretSuffixes.Any(suffix => compact.EndsWith(suffix, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// "true", "3600" or "60" under a secret-sounding name are switches and durations; masking them
    /// would blank ordinary words and numbers in every log.
    /// </summary>
    private static bool LooksLikeASecret(string value) =>
        !bool.TryParse(value, out _) && !(value.Length < 8 && value.All(char.IsAsciiDigit)) && !TimeSpan.TryParse(value, out _);

    private static string? PasswordInUrl(string? url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return null;
        }

        var parts = uri.UserInfo.Split(':', 2);
        return parts.Length == 2 && parts[1].Length > 0 ? Uri.UnescapeDataString(parts[1]) : null;
    }

    private static string? PasswordInConnectionString(string? connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return null;
        }

        try
        {
            var builder = new DbConnectionStringBuilder { ConnectionString = connectionString };
            foreach (var name in new[] { "Password", "Pwd" })
            {
                if (builder.TryGetValue(name, out var value) && value is string { Length: > 0 } password)
                {
                    return password;
                }
            }
        }
        catch (ArgumentException)
        {
            // Not a valid connection string: storage reports that at start; there is nothing to mask.
        }

        return null;
    }
}
