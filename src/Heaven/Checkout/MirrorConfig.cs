using System.Security.Cryptography;
using System.Text;

namespace Heaven.Checkout;

/// <summary>
/// Puts a mirror back into the state Heaven made it in, before every checkout (under the mirror's
/// lock): its config rewritten to exactly what Heaven writes, and the files Heaven never writes that
/// make git run programs or read other repositories deleted (hooks too).
/// </summary>
/// <remarks>
/// Heaven owns its mirrors, so anything else in them was planted — by a deploy script, which is
/// repository code. <see cref="GitEnvironment"/> overrides what git lets a later setting override; this
/// removes the rest, filter drivers above all (<c>filter.&lt;name&gt;.smudge</c> with a
/// <c>.gitattributes</c> of the repository), for which git has no override. Rewriting the file rather
/// than deleting keys also drops includes (<c>include.path</c>, <c>includeIf</c>) and what they would
/// pull in, and replaces a config that is a link to a file elsewhere.
/// </remarks>
internal static class MirrorConfig
{
    /// <summary>Files of a bare repository that Heaven never writes and that change what git runs or reads.</summary>
    private static readonly string[] PlantedFiles =
    [
        // Attributes for every path, naming filter drivers.
        "info/attributes",
        // Other repositories' objects, and with them core.alternateRefsCommand; Heaven uses no alternates.
        "objects/info/alternates",
        "objects/info/http-alternates",
        // Rewritten history: a graft makes a commit's parents whatever the file says.
        "info/grafts",
        // Makes the mirror a linked worktree of some other repository.
        "commondir",
    ];

    // Settings git init writes that describe the repository itself and must survive: the format, and
    // what it found out about the file system. Everything else is Heaven's (remote.origin.url) or planted.
    private static readonly Dictionary<string, Func<string, bool>> Kept = new(StringComparer.Ordinal)
    {
        ["core.filemode"] = IsBoolean,
        ["core.ignorecase"] = IsBoolean,
        ["core.precomposeunicode"] = IsBoolean,
        ["core.symlinks"] = IsBoolean,
        ["extensions.objectformat"] = v => v is "sha1" or "sha256",
        ["extensions.refstorage"] = v => v is "files" or "reftable",
    };

    /// <summary>Settings Heaven writes itself; present in any mirror, so not reported when found.</summary>
    private static readonly HashSet<string> Written = new(StringComparer.Ordinal)
    {
        "core.repositoryformatversion", "core.bare", "remote.origin.url",
    };

    /// <summary>Reads the mirror's settings with <paramref name="git"/>, then <see cref="Repair"/>s it.</summary>
    /// <returns>What was found that Heaven does not write: setting names and file names, never values.</returns>
    /// <exception cref="CheckoutException">the mirror could not be written.</exception>
    public static async Task<IReadOnlyList<string>> RepairAsync(GitCommand git, string mirror, CloneSource source, string workingDirectory, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // --no-includes: what an include.path names is not read, only reported and dropped with it.
        var listed = await git.RunAsync(
            ["--git-dir=" + mirror, "config", "--file", Path.Combine(mirror, "config"), "--no-includes", "--null", "--list"],
            workingDirectory,
            timeout,
            cancellationToken);
        try
        {
            return Repair(mirror, source, listed.Succeeded ? listed.StandardOutput : null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckoutException($"could not repair the mirror {mirror}: {e.Message}");
        }
    }

    /// <summary>
    /// Rewrites <paramref name="mirror"/>'s config, when it differs from Heaven's, and deletes planted files.
    /// </summary>
    /// <param name="listed">
    /// <c>git config --file config --no-includes --null --list</c> of the mirror; null when git could not read
    /// it (a broken file is replaced by a fresh one).
    /// </param>
    /// <returns>What was found that Heaven does not write: setting names and file names, never values.</returns>
    /// <exception cref="IOException">the config could not be written.</exception>
    /// <exception cref="UnauthorizedAccessException">the config could not be written.</exception>
    public static IReadOnlyList<string> Repair(string mirror, CloneSource source, string? listed)
    {
        var settings = Parse(listed ?? "");
        var found = settings.Select(s => s.Key).Where(k => !Kept.ContainsKey(k) && !Written.Contains(k)).Select(Printable).Distinct(StringComparer.Ordinal).ToList();
        var text = Text(settings, source.Url);
        var path = Path.Combine(mirror, "config");
        if (!IsRegularFileWith(path, text))
        {
            // A new file moved over the old one: a link named config is replaced, not written through,
            // and git never sees half a file.
            var temporary = Path.Combine(mirror, $"config.heaven-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
            File.WriteAllText(temporary, text, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            if (Directory.Exists(path) && new DirectoryInfo(path).LinkTarget is null)
            {
                Directory.Delete(path, recursive: true);
            }

            File.Move(temporary, path, overwrite: true);
        }

        // git never runs them (core.hooksPath), but a person running git in the mirror would; git init's are *.sample.
        var hooks = new DirectoryInfo(Path.Combine(mirror, "hooks"));
        IEnumerable<string> plantedHooks = hooks.LinkTarget is not null ? ["hooks"]
            : hooks.Exists ? hooks.EnumerateFileSystemInfos().Where(h => !h.Name.EndsWith(".sample", StringComparison.Ordinal)).Select(h => "hooks/" + h.Name).ToList()
            : [];
        foreach (var name in PlantedFiles.Concat(plantedHooks))
        {
            var file = new FileInfo(Path.Combine(mirror, name));
            if (file.Exists || file.LinkTarget is not null)
            {
                file.Delete();
                found.Add(Printable(name));
            }
            else if (Directory.Exists(file.FullName))
            {
                Directory.Delete(file.FullName, recursive: true);
                found.Add(Printable(name));
            }
        }

        return found;
    }

    /// <summary>The config Heaven wants: git init's description of the repository, and the clone URL.</summary>
    internal static string Text(IReadOnlyList<KeyValuePair<string, string>> settings, string url)
    {
        var kept = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in settings)
        {
            if (Kept.TryGetValue(key, out var valid) && valid(value.ToLowerInvariant()))
            {
                kept[key] = value.ToLowerInvariant();
            }
        }

        var extensions = kept.Where(kv => kv.Key.StartsWith("extensions.", StringComparison.Ordinal)).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var text = new StringBuilder()
            .Append("[core]\n")
            // Version 1 is what makes git honour (and insist on understanding) the extensions.
            .Append("\trepositoryformatversion = ").Append(extensions.Count > 0 ? '1' : '0').Append('\n')
            .Append("\tfilemode = ").Append(kept.GetValueOrDefault("core.filemode", "true")).Append('\n')
            .Append("\tbare = true\n");
        foreach (var key in new[] { "core.ignorecase", "core.precomposeunicode", "core.symlinks" })
        {
            if (kept.TryGetValue(key, out var value))
            {
                text.Append('\t').Append(key["core.".Length..]).Append(" = ").Append(value).Append('\n');
            }
        }

        if (extensions.Count > 0)
        {
            text.Append("[extensions]\n");
            foreach (var (key, value) in extensions)
            {
                text.Append('\t').Append(key["extensions.".Length..]).Append(" = ").Append(value).Append('\n');
            }
        }

        return text.Append("[remote \"origin\"]\n\turl = ").Append(Quote(url)).Append('\n').ToString();
    }

    /// <summary>Entries of <c>git config --null --list</c>: "key\nvalue\0", or "key\0" for a key without a value.</summary>
    internal static List<KeyValuePair<string, string>> Parse(string listed)
    {
        var settings = new List<KeyValuePair<string, string>>();
        foreach (var entry in listed.Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            var newline = entry.IndexOf('\n', StringComparison.Ordinal);
            settings.Add(newline < 0 ? new(entry, "true") : new(entry[..newline], entry[(newline + 1)..]));
        }

        return settings;
    }

    /// <summary>
    /// A value as git's config file reads it. Clone URLs have passed <see cref="CloneSource"/>: printable
    /// ASCII without spaces or backslashes, so only '"', '#' and ';' need the quotes (and '"' its escape).
    /// </summary>
    private static string Quote(string value) =>
        value.AsSpan().IndexOfAny("\"#;") < 0 ? value : "\"" + value.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    /// <summary>A planted name as it may appear in a log line: printable ASCII, cut short. Names may hold any character but newline.</summary>
    private static string Printable(string name)
    {
        var text = new string(name.Select(c => c is >= ' ' and <= '~' ? c : '?').ToArray());
        return text.Length > 80 ? text[..79] + "…" : text;
    }

    private static bool IsBoolean(string value) => value is "true" or "false";

    private static bool IsRegularFileWith(string path, string text)
    {
        var file = new FileInfo(path);
        if (!file.Exists || file.LinkTarget is not null || file.Length != Encoding.UTF8.GetByteCount(text))
        {
            return false;
        }

        return File.ReadAllText(path) == text;
    }
}
