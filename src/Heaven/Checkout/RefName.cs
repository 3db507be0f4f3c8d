using System.Text;

namespace Heaven.Checkout;

/// <summary>
/// Whether a deployment's ref (<c>master</c>, <c>feature/x</c>, <c>refs/heads/x</c>, <c>v1.2.3</c>, a sha)
/// is a name git would accept, following <c>git check-ref-format --allow-onelevel</c>, plus what
/// Heaven adds because the ref later reaches deploy scripts as <c>BRANCH</c>.
/// </summary>
/// <remarks>
/// Heaven never hands the ref to git (the checkout is at the sha), but providers pass it on to tools
/// and shells. The original Heaven allowed printable ASCII only; that stays, and shell
/// metacharacters, which git allows but no branch needs, are refused too.
/// </remarks>
internal static class RefName
{
    /// <summary>GitHub itself refuses longer ref names; a bound also keeps messages and variables small.</summary>
    public const int MaxLength = 255;

    private const string GitForbidden = "~^:?*[\\";

    // Characters that end, substitute or redirect a shell command, or break its quoting.
    private const string ShellSpecial = "$`;|&<>()'\"";

    /// <summary>Why <paramref name="name"/> is not an acceptable ref, or null when it is.</summary>
    public static string? Problem(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "it is empty";
        }

        if (name.Length > MaxLength)
        {
            return $"it is longer than {MaxLength} characters";
        }

        foreach (var c in name)
        {
            if (c < ' ' || c == '\x7f')
            {
                return "it contains a control character";
            }

            if (c > '\x7e')
            {
                return "it contains a character outside printable ASCII";
            }

            if (c == ' ')
            {
                return "it contains a space";
            }

            if (GitForbidden.Contains(c))
            {
                return $"it contains '{c}', which git does not allow in ref names";
            }

            if (ShellSpecial.Contains(c))
            {
                return $"it contains '{c}', which a shell would interpret";
            }
        }

        if (name == "@")
        {
            return "'@' alone is git's name for HEAD";
        }

        if (name[0] == '-')
        {
            // git would read it as an option; check-ref-format --branch refuses it for that reason.
            return "it starts with '-'";
        }

        if (name.Contains("@{", StringComparison.Ordinal))
        {
            return "it contains '@{', git's reflog syntax";
        }

        if (name.Contains("..", StringComparison.Ordinal))
        {
            return "it contains '..', git's range syntax";
        }

        if (name[0] == '/')
        {
            return "it starts with '/'";
        }

        if (name[^1] == '/')
        {
            return "it ends with '/'";
        }

        if (name[^1] == '.')
        {
            return "it ends with '.'";
        }

        foreach (var component in name.Split('/'))
        {
            if (component.Length == 0)
            {
                return "it contains '//'";
            }

            if (component[0] == '.')
            {
                return $"its component '{component}' starts with '.'";
            }

            if (component.EndsWith(".lock", StringComparison.Ordinal))
            {
                return $"its component '{component}' ends with '.lock'";
            }
        }

        return null;
    }

    public static bool IsValid(string? name) => Problem(name) is null;

    /// <summary>
    /// The value in single quotes for an error message: control and non-ASCII characters escaped,
    /// long values cut, so a hostile ref cannot forge log lines or flood a status description.
    /// </summary>
    public static string Quote(string? value, int maxLength = 60)
    {
        if (value is null)
        {
            return "(none)";
        }

        var text = new StringBuilder("'");
        foreach (var c in value.Length > maxLength ? value[..maxLength] : value)
        {
            text.Append(c switch
            {
                '\'' or '\\' => "\\" + c,
                >= ' ' and <= '~' => c.ToString(),
                _ => $"\\u{(int)c:x4}",
            });
        }

        return text.Append(value.Length > maxLength ? "…'" : "'").ToString();
    }
}
