using System.Text;
using System.Text.RegularExpressions;
using Heaven.GitHub;

namespace Heaven.Checkout;

/// <summary>Reads one of Heaven's own environment variables (the process's, unless a test says otherwise).</summary>
internal delegate string? HostVariables(string name);

/// <summary>
/// The environment one git invocation runs with, and how its output is cleaned. The token travels as
/// an <c>http.&lt;url&gt;.extraheader</c> in <c>GIT_CONFIG_*</c> variables: never in a URL, an argument
/// (arguments are world-readable in /proc, the environment is not) or a config file, and scoped to the
/// clone URL's scheme, host and port so git sends it nowhere else.
/// </summary>
/// <remarks>
/// <para>
/// Deploy scripts are repository code, and without isolation they can write into a mirror: its
/// config, its hooks, its info/attributes. Whatever git runs inherits git's environment, so git must
/// neither run anything planted there nor have anything worth stealing. Hence:
/// </para>
/// <list type="bullet">
/// <item>The environment starts empty. Of Heaven's own variables git gets only what finding programs
/// and reaching a server need (PATH, TMPDIR, proxies, CA bundles, Heaven's own ssh settings); not
/// GITHUB_TOKEN, DATABASE_URL, HEROKU_API_KEY or anything else Heaven was started with.</item>
/// <item>No configuration but the repository's own and the one set here: no system or global
/// config (<c>GIT_CONFIG_NOSYSTEM</c>, <c>GIT_CONFIG_GLOBAL=/dev/null</c>, <c>HOME</c> pointing
/// nowhere), no system attributes.</item>
/// <item>Settings that name a program are overridden where git lets a later setting win: variables
/// (which beat any config) for ssh, the pager, the editor, askpass and the git:// proxy; command-line
/// config (<c>GIT_CONFIG_*</c>, read after the repository's and its includes) for hooks, fsmonitor,
/// the attributes file, alternate refs and credential helpers. <c>GIT_ALLOW_PROTOCOL</c> (which beats
/// every <c>protocol.*</c> setting) allows the clone URL's own scheme only, so neither a rewritten URL
/// (<c>url.*.insteadOf</c>) nor a remote helper (<c>ext::</c>, <c>remote.*.vcs</c>) can run a program.
/// The fetch passes <c>--upload-pack</c> itself, as the first <c>remote.*.uploadpack</c> would win.</item>
/// <item>What git offers no override for — filter drivers above all (<c>filter.&lt;name&gt;.*</c>, used
/// by any <c>.gitattributes</c> of the repository), <c>diff.external</c>, <c>http.&lt;url&gt;.*</c> — is
/// dealt with by <see cref="MirrorConfig"/>, which rewrites the mirror's config to exactly what Heaven
/// wrote before every checkout, under the mirror's lock.</item>
/// </list>
/// </remarks>
internal sealed partial class GitEnvironment
{
    /// <summary>Where git looks for <c>~/.gitconfig</c> and the like: nowhere. (ssh finds its own files through the user database.)</summary>
    public const string NoHome = "/nonexistent";

    // Needed by every git command: finding git's own programs and a place for temporary files.
    private static readonly string[] LocalVariables = ["PATH", "TMPDIR", "GIT_EXEC_PATH"];

    // Needed to reach a server: Heaven's proxy and certificate settings (the operator's, not a deploy's).
    private static readonly string[] NetworkVariables =
    [
        "http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
        "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "GIT_HTTP_USER_AGENT",
    ];

    private readonly string[] secrets;

    private GitEnvironment(IReadOnlyDictionary<string, string> variables, string[] secrets, bool sendsToken, bool withheldToken)
    {
        Variables = variables;
        this.secrets = secrets;
        SendsToken = sendsToken;
        WithheldToken = withheldToken;
    }

    /// <summary>The whole environment git runs with; nothing else is inherited.</summary>
    public IReadOnlyDictionary<string, string> Variables { get; }

    /// <summary>Whether git gets the token for this fetch.</summary>
    public bool SendsToken { get; }

    /// <summary>A token is configured but this clone URL's server is not GitHub's, so it was kept back.</summary>
    public bool WithheldToken { get; }

    /// <summary>
    /// For commands that reach no server (init, config, cat-file, worktree). They may read other
    /// repositories on this disk only (<c>file</c>): Heaven's own mirrors, by path.
    /// </summary>
    /// <param name="host">Heaven's own environment; the process's when null.</param>
    public static GitEnvironment Local(string? token, HostVariables? host = null) =>
        new(Base(host ?? Environment.GetEnvironmentVariable, LocalVariables, "file", []), SecretsOf(token), sendsToken: false, withheldToken: false);

    /// <summary>For a fetch from <paramref name="source"/>: the token goes along when it is GitHub's own server (GitHub:WebUrl or GitHub:ApiUrl).</summary>
    /// <param name="ssh">The deployment's ssh variables (agent socket, GIT_SSH_COMMAND), for clone URLs reached over ssh.</param>
    /// <param name="host">Heaven's own environment; the process's when null.</param>
    public static GitEnvironment ForFetch(CloneSource source, GitHubOptions github, IReadOnlyDictionary<string, string>? ssh = null, HostVariables? host = null)
    {
        host ??= Environment.GetEnvironmentVariable;
        var token = string.IsNullOrEmpty(github.Token) ? null : github.Token;
        var secrets = SecretsOf(token);
        var sendsToken = token is not null && source.IsHttp && (IsGitHubHost(source, github.WebUrl) || IsGitHubHost(source, github.ApiUrl));
        List<(string Key, string Value)> config = sendsToken ? [($"http.{source.ConfigScope}.extraheader", "Authorization: Basic " + Basic(token!))] : [];
        var variables = Base(host, [.. LocalVariables, .. NetworkVariables], source.Scheme, config);

        // Only git:// uses a proxy command; the variable (even empty) beats core.gitProxy, which a later setting cannot.
        variables["GIT_PROXY_COMMAND"] = host("GIT_PROXY_COMMAND") ?? "";
        if (source.Scheme == "ssh")
        {
            AddSsh(variables, host, ssh);
        }

        return new GitEnvironment(variables, secrets, sendsToken, withheldToken: token is not null && source.IsHttp && !sendsToken);
    }

    /// <summary>
    /// The ssh program and agent: the deployment's when it has a key, else Heaven's own. Always as
    /// GIT_SSH_COMMAND, the one way of naming ssh that no config (core.sshCommand) can override.
    /// </summary>
    private static void AddSsh(Dictionary<string, string> variables, HostVariables host, IReadOnlyDictionary<string, string>? ssh)
    {
        string? Deployment(string name) => ssh is not null && ssh.TryGetValue(name, out var value) ? value : null;

        if ((Deployment("SSH_AUTH_SOCK") ?? host("SSH_AUTH_SOCK")) is { Length: > 0 } agent)
        {
            variables["SSH_AUTH_SOCK"] = agent;
        }

        var program = host("GIT_SSH") is { Length: > 0 } plain ? "'" + plain.Replace("'", "'\\''", StringComparison.Ordinal) + "'" : "ssh";
        variables["GIT_SSH_COMMAND"] = Deployment("GIT_SSH_COMMAND") ?? host("GIT_SSH_COMMAND") ?? program;
        if (host("GIT_SSH_VARIANT") is { Length: > 0 } variant)
        {
            variables["GIT_SSH_VARIANT"] = variant;
        }
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

    private static Dictionary<string, string> Base(HostVariables host, IEnumerable<string> inherited, string protocol, List<(string Key, string Value)> extra)
    {
        var never = File.Exists("/bin/true") ? "/bin/true" : "true";
        List<(string Key, string Value)> config =
        [
            // Hooks (the mirror's hooks/ folder, or any folder core.hooksPath names): none. Reference-transaction
            // hooks would run on every fetch and worktree add, post-checkout ones on a checkout.
            ("core.hooksPath", "/dev/null"),
            // A program git would start on any command that reads a worktree's index.
            ("core.fsmonitor", "false"),
            // The user's attributes (~/.config/git/attributes by default), which could name a filter.
            ("core.attributesFile", "/dev/null"),
            // Run by a fetch when the repository has alternates; git takes the last value.
            ("core.alternateRefsCommand", never),
            // An empty helper list: nothing asks a credential store, and nothing can save a credential.
            ("credential.helper", ""),
            // A checkout that recursed into submodules would fetch them, from wherever .gitmodules says.
            ("submodule.recurse", "false"),
            .. extra,
        ];
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in inherited)
        {
            if (host(name) is { Length: > 0 } value)
            {
                variables[name] = value;
            }
        }

        variables["HOME"] = NoHome;
        variables["GIT_CONFIG_NOSYSTEM"] = "1";
        variables["GIT_CONFIG_GLOBAL"] = "/dev/null";
        variables["GIT_ATTR_NOSYSTEM"] = "1";
        // Beats every protocol.* setting: a URL of another scheme (rewritten by url.*.insteadOf, or ext::) is refused.
        variables["GIT_ALLOW_PROTOCOL"] = protocol;
        // refs/replace/* would let a planted ref stand in for the deployment's commit.
        variables["GIT_NO_REPLACE_OBJECTS"] = "1";
        // No prompt may wait for an answer that never comes: fail and say so instead.
        variables["GIT_TERMINAL_PROMPT"] = "0";
        variables["GIT_ASKPASS"] = never;
        variables["GCM_INTERACTIVE"] = "never";
        variables["GIT_PAGER"] = "cat";
        variables["GIT_EDITOR"] = never;
        // git's messages in English, so the errors Heaven quotes read the same everywhere.
        variables["LC_ALL"] = "C";
        variables["GIT_CONFIG_COUNT"] = config.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        for (var i = 0; i < config.Count; i++)
        {
            variables[$"GIT_CONFIG_KEY_{i}"] = config[i].Key;
            variables[$"GIT_CONFIG_VALUE_{i}"] = config[i].Value;
        }

        return variables;
    }

    /// <summary>Replaces a child's (initially inherited) variables with exactly these.</summary>
    public void ApplyTo(IDictionary<string, string?> environment)
    {
        environment.Clear();
        foreach (var (name, value) in Variables)
        {
            environment[name] = value;
        }
    }

    [GeneratedRegex(@"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@'""]*@")]
    private static partial Regex UrlUserInfo();
}
