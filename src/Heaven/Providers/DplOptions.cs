using System.Text.RegularExpressions;
using Heaven.Configuration;

namespace Heaven.Providers;

/// <summary>The <c>dpl</c> provider's settings. Section <c>Providers:Dpl</c>.</summary>
public sealed partial class DplOptions : ISelfValidatingOptions
{
    public const string Section = "Providers:Dpl";

    /// <summary>
    /// Variables a deploy tool must not get from here: the deploy's own variables and the basics of
    /// its environment. Overriding them would be an accident, never a credential.
    /// </summary>
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME", "SHELL", "TMPDIR", "TERM",
        "http_proxy", "https_proxy", "no_proxy",
        "BRANCH", "SHA", "DEPLOY_ENV", "DEPLOY_TASK",
    };

    /// <summary>The dpl program: a name looked up on the deploy's PATH, or a path.</summary>
    public string Command { get; set; } = "dpl";

    /// <summary>
    /// Secrets by dpl provider, then by environment variable: <c>Providers:Dpl:Secrets:heroku:HEROKU_API_KEY</c>.
    /// A run for one dpl provider gets that provider's variables only, in its environment (dpl 2 reads
    /// every option from <c>&lt;PROVIDER&gt;_&lt;OPTION&gt;</c>), never as arguments; all are masked.
    /// </summary>
    public Dictionary<string, Dictionary<string, string>> Secrets { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>dpl provider names: heroku, s3, elasticbeanstalk, pages, ...</summary>
    [GeneratedRegex("^[a-z][a-z0-9_-]{0,49}$")]
    internal static partial Regex ProviderPattern();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    private static partial Regex VariablePattern();

    /// <summary>The secrets for one dpl provider (case of its name ignored).</summary>
    public IReadOnlyDictionary<string, string> SecretsFor(string provider) =>
        Secrets.TryGetValue(provider, out var secrets) ? secrets : new Dictionary<string, string>();

    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Command))
        {
            yield return $"{Section}:Command must name the dpl program (default 'dpl').";
        }

        // Messages name the setting, never its value: these are secrets.
        foreach (var (provider, variables) in Secrets)
        {
            if (!ProviderPattern().IsMatch(provider.ToLowerInvariant()))
            {
                yield return $"{Section}:Secrets:{provider} must be named after a dpl provider (lower-case letters, digits, '_' and '-').";
            }

            foreach (var (variable, value) in variables ?? [])
            {
                var key = $"{Section}:Secrets:{provider}:{variable}";
                if (!VariablePattern().IsMatch(variable))
                {
                    yield return $"{key}: '{variable}' is not an environment variable name (letters, digits and '_').";
                }
                else if (Reserved.Contains(variable) || variable.StartsWith("HEAVEN_", StringComparison.OrdinalIgnoreCase) || variable.StartsWith("LC_", StringComparison.OrdinalIgnoreCase))
                {
                    yield return $"{key}: {variable} is one of the deploy's own variables and cannot be set here.";
                }
                else if (string.IsNullOrEmpty(value))
                {
                    yield return $"{key} is empty.";
                }
            }
        }
    }
}
