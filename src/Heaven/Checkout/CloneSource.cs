namespace Heaven.Checkout;

/// <summary>
/// A validated clone URL from the signed payload (<c>repository.clone_url</c>). Parsed by hand, strictly,
/// so what Heaven checks is what git and curl will read: no credentials, no whitespace, no option-like
/// host, and one of the schemes git fetches from without running anything else.
/// </summary>
internal sealed record CloneSource(string Url, string Scheme, string Host, int? Port)
{
    private static readonly string[] Schemes = ["https", "http", "ssh", "git", "file"];

    public bool IsHttp => Scheme is "http" or "https";

    public int EffectivePort => Port ?? Scheme switch
    {
        "https" => 443,
        "http" => 80,
        "ssh" => 22,
        "git" => 9418,
        _ => 0,
    };

    /// <summary>
    /// The URL prefix git matches <c>http.&lt;url&gt;.*</c> settings against: scheme, host and port, so a
    /// header configured for it is sent to this server only.
    /// </summary>
    public string ConfigScope => $"{Scheme}://{Host}{(Port is { } port ? ":" + port : "")}/";

    public static bool TryParse(string? text, out CloneSource? source, out string? problem)
    {
        source = null;
        problem = Check(text, out var scheme, out var host, out var port);
        if (problem is null)
        {
            source = new CloneSource(text!, scheme, host, port);
        }

        return problem is null;
    }

    private static string? Check(string? text, out string scheme, out string host, out int? port)
    {
        scheme = host = "";
        port = null;
        if (string.IsNullOrEmpty(text))
        {
            return "it is empty";
        }

        if (text.Length > 2048)
        {
            return "it is longer than 2048 characters";
        }

        if (text.Any(c => c is <= ' ' or > '~' or '\\'))
        {
            return "it contains whitespace, a control character, a backslash or a non-ASCII character";
        }

        var separator = text.IndexOf("://", StringComparison.Ordinal);
        if (separator < 0 && ScpLike(text, out host) is { } scpProblem)
        {
            scheme = "ssh";
            return scpProblem.Length == 0 ? null : scpProblem;
        }

        if (separator <= 0 || !text[..separator].All(char.IsAsciiLetter))
        {
            // This also refuses anything starting with '-', which git would take for an option.
            return "it is not a URL starting with https://, http://, ssh://, git:// or file://, nor user@host:path";
        }

        scheme = text[..separator].ToLowerInvariant();
        if (!Schemes.Contains(scheme))
        {
            return $"its scheme '{scheme}' is not one of https, http, ssh, git or file";
        }

        var rest = text[(separator + 3)..];
        if (rest.IndexOfAny(['?', '#']) >= 0)
        {
            return "it has a query or a fragment";
        }

        var slash = rest.IndexOf('/');
        var authority = slash < 0 ? rest : rest[..slash];
        var path = slash < 0 ? "" : rest[slash..];
        var at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            var user = authority[..at];
            if (scheme != "ssh")
            {
                return "it carries user information; credentials do not belong in a clone URL (set GitHub:Token instead)";
            }

            // ssh://git@host/... names the account, which is not a secret; a password would be.
            if (user.Length == 0 || !user.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                return "its user name is empty, carries a password or has unusual characters";
            }

            authority = authority[(at + 1)..];
        }

        var hostProblem = SplitHost(authority, out host, out port);
        if (hostProblem is not null)
        {
            return hostProblem;
        }

        if (scheme == "file")
        {
            if (host is not ("" or "localhost") || port is not null)
            {
                return "a file:// URL must not name a host";
            }

            return path.Length > 1 ? null : "it names no path";
        }

        if (host.Length == 0)
        {
            return "it names no host";
        }

        return path.Length > 1 ? null : "it names no repository path";
    }

    /// <summary>
    /// git's scp-like ssh syntax, <c>git@github.com:owner/repo.git</c> (GitHub's ssh_url): null when
    /// <paramref name="text"/> is not of that form, "" when it is valid, else the problem. A user name
    /// is required, so the text cannot be mistaken for a local path with a colon in it.
    /// </summary>
    private static string? ScpLike(string text, out string host)
    {
        host = "";
        var at = text.IndexOf('@');
        var colon = text.IndexOf(':');
        if (at <= 0 || colon < at || text.IndexOf('/') is var slash && slash >= 0 && slash < colon)
        {
            return null;
        }

        var user = text[..at];
        host = text[(at + 1)..colon].ToLowerInvariant();
        var path = text[(colon + 1)..];
        if (!user.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || user.StartsWith('-'))
        {
            return "its user name has unusual characters";
        }

        // A host starting with '-' would reach ssh as an option (CVE-2017-1000117).
        if (host.Length == 0 || host.StartsWith('-') || !host.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.'))
        {
            return "its host has characters a host name cannot have";
        }

        return path.Length == 0 || path.StartsWith('-') ? "it names no repository path" : "";
    }

    private static string? SplitHost(string authority, out string host, out int? port)
    {
        host = authority;
        port = null;
        string? portText = null;
        if (authority.StartsWith('['))
        {
            var end = authority.IndexOf(']');
            if (end < 0 || !authority[1..end].All(c => char.IsAsciiHexDigit(c) || c is ':' or '.'))
            {
                return "its IPv6 host is malformed";
            }

            host = authority[..(end + 1)];
            var after = authority[(end + 1)..];
            if (after.Length > 0)
            {
                if (after[0] != ':')
                {
                    return "its host is malformed";
                }

                portText = after[1..];
            }
        }
        else
        {
            var colon = authority.IndexOf(':');
            if (colon >= 0)
            {
                host = authority[..colon];
                portText = authority[(colon + 1)..];
            }

            // A host starting with '-' would reach ssh as an option (CVE-2017-1000117).
            if (host.StartsWith('-') || !host.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.'))
            {
                return "its host has characters a host name cannot have";
            }
        }

        host = host.ToLowerInvariant();
        if (portText is not null)
        {
            if (portText.Length is 0 or > 5 || !portText.All(char.IsAsciiDigit) || int.Parse(portText, System.Globalization.CultureInfo.InvariantCulture) is 0 or > 65535)
            {
                return "its port is not a number from 1 to 65535";
            }

            port = int.Parse(portText, System.Globalization.CultureInfo.InvariantCulture);
        }

        return null;
    }
}
