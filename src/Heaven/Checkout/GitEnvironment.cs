using System.Text;
using System.Text.RegularExpressions;
using Heaven.GitHub;

namespace Heaven.Checkout;

/// <summary>
/// The environment one git invocation runs with, and how its output is cleaned. The token travels as
/// an <c>http.&lt;url&gt;.extraheader</c> in <c>GIT_CONFIG_*</c> variables: never in a URL, an argument
/// (arguments are world-readable in /proc, the environment is not) or a config file, and scoped to the
/// clone URL's scheme, host and port so git sends it nowhere else.
/// </summary>
internal sealed partial class GitEnvironment
{
    // Inherited GIT_* variables that only say how to reach a server; every other one (GIT_DIR,
    // GIT_CONFIG_*, GIT_TRACE*, ...) could redirect git or write what it sends somewhere.
    private static readonly HashSet<string> InheritedGitVariables = new(StringComparer.Ordinal)
    {
        "GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSH_VARIANT", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH",
        "GIT_PROXY_COMMAND", "GIT_EXEC_PATH", "GIT_HTTP_USER_AGENT",
    };

    private readonly string[] secrets;

    private GitEnvironment(IReadOnlyDictionary<string, string> variables, string[] secrets, bool sendsToken, bool withheldToken)
    {
        Variables = variables;
        this.secrets = secrets;
        SendsToken = sendsToken;
        WithheldToken = withheldToken;
    }

    /// <summary>Set on top of the inherited environment.</summary>
    public IReadOnlyDictionary<string, string> Variables { get; }

    /// <summary>Whether git gets the token for this fetch.</summary>
    public bool SendsToken { get; }

    /// <summary>A token is configured but this clone URL's server is not GitHub's, so it was kept back.</summary>
    public bool WithheldToken { get; }

    /// <summary>For commands that reach no server (init, worktree, cat-file).</summary>
    public static GitEnvironment Local(string? token) => new(Base([]), SecretsOf(token), sendsToken: false, withheldToken: false);

    /// <summary>For a fetch from <paramref name="source"/>: the token goes along when it is GitHub's own server (GitHub:WebUrl or GitHub:ApiUrl).</summary>
    /// <param name="ssh">The deployment's ssh variables (agent socket, GIT_SSH_COMMAND), for clone URLs reached over ssh.</param>
    public static GitEnvironment ForFetch(CloneSource source, GitHubOptions github, IReadOnlyDictionary<string, string>? ssh = null)
    {
        var token = string.IsNullOrEmpty(github.Token) ? null : github.Token;
        var secrets = SecretsOf(token);
        if (token is null || !source.IsHttp)
        {
            return new GitEnvironment(WithSsh(Base([]), ssh), secrets, sendsToken: false, withheldToken: false);
        }

        if (!IsGitHubHost(source, github.WebUrl) && !IsGitHubHost(source, github.ApiUrl))
        {
            return new GitEnvironment(Base([]), secrets, sendsToken: false, withheldToken: true);
        }

        var header = "Authorization: Basic " + Basic(token);
        return new GitEnvironment(
            Base(
            [
                // An empty helper list: nothing asks a credential store, and nothing can save a credential.
                ("credential.helper", ""),
                ($"http.{source.ConfigScope}.extraheader", header),
            ]),
            secrets,
            sendsToken: true,
            withheldToken: false);
    }

    private static Dictionary<string, string> WithSsh(Dictionary<string, string> variables, IReadOnlyDictionary<string, string>? ssh)
    {
        // Only what reaching an ssh server needs; nothing here may replace the GIT_CONFIG_* set above.
        foreach (var name in new[] { "GIT_SSH_COMMAND", "SSH_AUTH_SOCK" })
        {
            if (ssh is not null && ssh.TryGetValue(name, out var value))
            {
                variables[name] = value;
            }
        }

        return variables;
    }

    /// <summary>Every known secret replaced with <c>***</c> and the user information of any URL removed.</summary>
    public string Mask(string text)
    {
        foreach (var secret in secrets)
        {
            text = text.Replace(secret, "***", StringComparison.Ordinal);
        }

        return UrlUserInfo().Replace(text, "$1");
    }

    /// <summary>HTTP basic credentials GitHub accepts for any token kind (user name <c>x-access-token</c>), base64-encoded.</summary>
    public static string Basic(string token) => Convert.ToBase64String(Encoding.UTF8.GetBytes("x-access-token:" + token));

    // git never prints the header, but an error, a trace or a helper might quote it in any of these forms.
    private static string[] SecretsOf(string? token) =>
        token is null ? [] : [Basic(token), token, Uri.EscapeDataString(token)];

    private static bool IsGitHubHost(CloneSource source, string? configured) =>
        Uri.TryCreate(configured, UriKind.Absolute, out var uri)
        && string.Equals(uri.Host, source.Host, StringComparison.OrdinalIgnoreCase)
        && uri.Port == source.EffectivePort;

    private static Dictionary<string, string> Base(List<(string Key, string Value)> config)
    {
        // Hooks would run programs from the mirror's configuration on worktree add; none are wanted.
        config.Insert(0, ("core.hooksPath", "/dev/null"));
        var never = File.Exists("/bin/true") ? "/bin/true" : "true";
        var variables = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            // No prompt may wait for an answer that never comes: fail and say so instead.
            ["GIT_TERMINAL_PROMPT"] = "0",
            ["GIT_ASKPASS"] = never,
            ["GCM_INTERACTIVE"] = "never",
            // git's messages in English, so the errors Heaven quotes read the same everywhere.
            ["LC_ALL"] = "C",
            ["GIT_CONFIG_COUNT"] = config.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        for (var i = 0; i < config.Count; i++)
        {
            variables[$"GIT_CONFIG_KEY_{i}"] = config[i].Key;
            variables[$"GIT_CONFIG_VALUE_{i}"] = config[i].Value;
        }

        return variables;
    }

    /// <summary>Applies this environment to a child's (initially inherited) variables.</summary>
    public void ApplyTo(IDictionary<string, string?> environment)
    {
        foreach (var name in environment.Keys.Where(k => k.StartsWith("GIT_", StringComparison.Ordinal) && !InheritedGitVariables.Contains(k)).ToList())
        {
            environment.Remove(name);
        }

        foreach (var (name, value) in Variables)
        {
            environment[name] = value;
        }
    }

    [GeneratedRegex(@"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@'""]*@")]
    private static partial Regex UrlUserInfo();
}
