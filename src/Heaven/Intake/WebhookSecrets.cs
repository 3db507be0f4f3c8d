using System.Security.Cryptography;
using System.Text;
using Heaven.Configuration;
using Heaven.Masking;
using Heaven.Repositories;
using Microsoft.Extensions.Options;

namespace Heaven.Intake;

/// <summary>The keys a delivery's signature is checked with, and the repository they belong to (null: the server-wide ones).</summary>
public sealed record WebhookSecretChoice(string? Repository, IReadOnlyList<byte[]> Keys);

/// <summary>
/// The secrets a webhook signature may be made with. Fail closed: there is always at least one,
/// because when none is configured Heaven generates one and keeps it in the data directory. A
/// repository with a secret of its own (<c>Repositories:&lt;owner/name&gt;:WebhookSecret</c>) is
/// served with that one only.
/// </summary>
public sealed class WebhookSecrets : IServerSecretSource
{
    public const string GeneratedSecretFileName = "webhook-secret";

    private readonly IReadOnlyDictionary<string, WebhookSecretChoice> repositories;

    private WebhookSecrets(IReadOnlyList<byte[]> keys, IReadOnlyDictionary<string, WebhookSecretChoice> repositories, string? generatedFile, bool generatedNow)
    {
        Keys = keys;
        this.repositories = repositories;
        ServerWide = new WebhookSecretChoice(null, keys);
        GeneratedSecretFile = generatedFile;
        GeneratedNow = generatedNow;
    }

    /// <summary>The server-wide HMAC keys, the primary one first.</summary>
    public IReadOnlyList<byte[]> Keys { get; }

    /// <summary>The server-wide keys, for deliveries of repositories without a secret of their own and events without a repository.</summary>
    public WebhookSecretChoice ServerWide { get; }

    /// <summary>Where the generated secret lives, when the secret was not configured.</summary>
    public string? GeneratedSecretFile { get; }

    /// <summary>True on the start that created the file (so the start report can say so).</summary>
    public bool GeneratedNow { get; }

    /// <summary>The secret values as strings (the repositories' own included), for the output masker of later components.</summary>
    public IEnumerable<string> Values => Keys.Concat(repositories.Values.SelectMany(r => r.Keys)).Select(k => Encoding.UTF8.GetString(k));

    IEnumerable<string> IServerSecretSource.Secrets => Values;

    /// <summary>
    /// The keys for a delivery of <paramref name="repository"/> (<c>owner/name</c>, any case, as GitHub
    /// names are): the repository's own secret when it has one, and then only that; otherwise the
    /// server-wide ones.
    /// </summary>
    public WebhookSecretChoice For(string? repository) =>
        repository is not null && repositories.TryGetValue(repository, out var own) ? own : ServerWide;

    public static WebhookSecrets Load(IOptions<WebhookOptions> options, IOptions<RepositoryOptions> repositoryOptions, DataDirectory dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(repositoryOptions);
        var repositories = repositoryOptions.Value.Repositories
            .Where(r => !string.IsNullOrEmpty(r.WebhookSecret))
            .ToDictionary(
                r => r.Repository,
                r => new WebhookSecretChoice(r.Repository, [Encoding.UTF8.GetBytes(r.WebhookSecret!)]),
                StringComparer.OrdinalIgnoreCase);

        var configured = new[] { options.Value.Secret, options.Value.SecondarySecret }
            .Where(s => !string.IsNullOrEmpty(s))
            .Select(s => Encoding.UTF8.GetBytes(s!))
            .ToList();

        if (!string.IsNullOrEmpty(options.Value.Secret))
        {
            return new WebhookSecrets(configured, repositories, null, false);
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
        return new WebhookSecrets(configured, repositories, path, generatedNow);
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
