using System.Security.Cryptography;
using System.Text;
using Heaven.Configuration;
using Heaven.Masking;
using Microsoft.Extensions.Options;

namespace Heaven.Intake;

/// <summary>
/// The secrets a webhook signature may be made with. Fail closed: there is always at least one,
/// because when none is configured Heaven generates one and keeps it in the data directory.
/// </summary>
public sealed class WebhookSecrets : IServerSecretSource
{
    public const string GeneratedSecretFileName = "webhook-secret";

    private WebhookSecrets(IReadOnlyList<byte[]> keys, string? generatedFile, bool generatedNow)
    {
        Keys = keys;
        GeneratedSecretFile = generatedFile;
        GeneratedNow = generatedNow;
    }

    /// <summary>HMAC keys, the primary one first.</summary>
    public IReadOnlyList<byte[]> Keys { get; }

    /// <summary>Where the generated secret lives, when the secret was not configured.</summary>
    public string? GeneratedSecretFile { get; }

    /// <summary>True on the start that created the file (so the start report can say so).</summary>
    public bool GeneratedNow { get; }

    /// <summary>The secret values as strings, for the output masker of later components.</summary>
    public IEnumerable<string> Values => Keys.Select(k => Encoding.UTF8.GetString(k));

    IEnumerable<string> IServerSecretSource.Secrets => Values;

    public static WebhookSecrets Load(IOptions<WebhookOptions> options, DataDirectory dataDirectory)
    {
        var configured = new[] { options.Value.Secret, options.Value.SecondarySecret }
            .Where(s => !string.IsNullOrEmpty(s))
            .Select(s => Encoding.UTF8.GetBytes(s!))
            .ToList();

        if (!string.IsNullOrEmpty(options.Value.Secret))
        {
            return new WebhookSecrets(configured, null, false);
        }

        var path = dataDirectory.PathOf(GeneratedSecretFileName);
        var generatedNow = false;
        if (!File.Exists(path))
        {
            WriteNewSecret(path);
            generatedNow = true;
        }

        var stored = File.ReadAllText(path).Trim();
        if (stored.Length < 16)
        {
            throw new InvalidOperationException($"The stored webhook secret in {path} is empty or too short. Delete the file to have Heaven generate a new one, or set Webhooks:Secret (or GITHUB_WEBHOOK_SECRET).");
        }

        // A configured secondary secret still counts during a rotation away from the generated one.
        configured.Insert(0, Encoding.UTF8.GetBytes(stored));
        return new WebhookSecrets(configured, path, generatedNow);
    }

    private static void WriteNewSecret(string path)
    {
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var temporary = path + ".tmp";
        var fileOptions = new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            Options = FileOptions.WriteThrough,
        };
        if (!OperatingSystem.IsWindows())
        {
            // Readable by the owner only, from the moment the file exists.
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temporary, fileOptions))
        using (var writer = new StreamWriter(stream))
        {
            writer.WriteLine(secret);
        }

        // Rename so a crash never leaves a half-written secret behind.
        File.Move(temporary, path, overwrite: false);
    }
}
