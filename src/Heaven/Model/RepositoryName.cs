namespace Heaven.Model;

/// <summary>
/// A repository's <c>owner/name</c> as a safe relative path under the data directory. Both parts are
/// limited to GitHub's characters so a hostile name (<c>..</c>, <c>a/../../etc</c>) cannot leave it.
/// </summary>
internal sealed record RepositoryName(string Owner, string Name)
{
    private const int MaxPartLength = 100;

    /// <summary>Lowercase: GitHub names are case-insensitive, so <c>Atmos/Heaven</c> and <c>atmos/heaven</c> share one mirror and one lock.</summary>
    public string Key => $"{Owner}/{Name}".ToLowerInvariant();

    public override string ToString() => $"{Owner}/{Name}";

    public static bool TryParse(string? value, out RepositoryName? repository, out string? problem)
    {
        repository = null;
        var parts = (value ?? "").Split('/');
        if (parts.Length != 2)
        {
            problem = "it is not of the form owner/name";
            return false;
        }

        foreach (var part in parts)
        {
            if (part.Length is 0 or > MaxPartLength)
            {
                problem = $"each part must have 1 to {MaxPartLength} characters";
                return false;
            }

            if (part is "." or "..")
            {
                problem = "'.' and '..' are not repository names";
                return false;
            }

            if (!part.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                problem = "only letters, digits, '-', '_' and '.' are allowed";
                return false;
            }
        }

        repository = new RepositoryName(parts[0], parts[1]);
        problem = null;
        return true;
    }
}
