using Heaven.Configuration;

namespace Heaven.Ssh;

/// <summary>The deploy key and how hosts are trusted. Same section as the other deploy settings: <c>Deployments</c>.</summary>
public sealed class DeployKeyOptions : ISelfValidatingOptions
{
    public const string Section = "Deployments";

    /// <summary>
    /// The deploy key (the original's one line with literal \n separators, with or without the
    /// BEGIN/END lines; real newlines work too). Loaded into an ssh-agent of each deployment's own.
    /// Never logged.
    /// </summary>
    public string? PrivateKey { get; set; }

    /// <summary>
    /// Refuse hosts whose key is not yet in the data directory's <c>known_hosts</c>. Off by default:
    /// a new host's key is added on first contact (OpenSSH's accept-new); a changed key is always refused.
    /// </summary>
    public bool StrictHostKeyChecking { get; set; }

    public IEnumerable<string> Validate()
    {
        if (!string.IsNullOrWhiteSpace(PrivateKey) && !DeployKey.TryParse(PrivateKey, out _, out var keyProblem))
        {
            // The value itself is never repeated: it is (or was meant to be) a secret.
            yield return $"{Setting.Name("Deployments:PrivateKey")} is not a usable private key: {keyProblem}. (Its value is not shown.)";
        }
    }
}
