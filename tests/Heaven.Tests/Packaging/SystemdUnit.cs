using System.Text;

namespace Heaven.Tests.Packaging;

/// <summary>
/// A systemd service unit and its drop-ins, read the way systemd reads the settings the tests rely on:
/// later assignments win, an empty assignment resets a list, and <c>EnvironmentFile=</c> overrides
/// <c>Environment=</c>.
/// </summary>
public sealed class SystemdUnit
{
    private readonly List<(string Key, string Value)> service = [];

    private SystemdUnit()
    {
    }

    /// <summary>Every <c>[Service]</c> assignment, in the order systemd applies them.</summary>
    public IReadOnlyList<(string Key, string Value)> Service => service;

    public static SystemdUnit Load(string unitFile, params string[] dropIns)
    {
        var unit = new SystemdUnit();
        foreach (var file in new[] { unitFile }.Concat(dropIns.Order(StringComparer.Ordinal)))
        {
            var section = "";
            foreach (var raw in File.ReadAllLines(file))
            {
                var line = raw.Trim();
                if (line.Length == 0 || line[0] is '#' or ';')
                {
                    continue;
                }

                if (line[0] == '[')
                {
                    section = line;
                    continue;
                }

                var equals = line.IndexOf('=', StringComparison.Ordinal);
                if (section == "[Service]" && equals > 0)
                {
                    unit.service.Add((line[..equals].Trim(), line[(equals + 1)..].Trim()));
                }
            }
        }

        return unit;
    }

    /// <summary>The last value of a single-valued setting, or null.</summary>
    public string? Single(string key) => service.LastOrDefault(s => s.Key == key).Value;

    /// <summary>All values of a list setting since its last reset (an empty assignment).</summary>
    public IReadOnlyList<string> All(string key)
    {
        var values = new List<string>();
        foreach (var (k, value) in service.Where(s => s.Key == key))
        {
            if (value.Length == 0)
            {
                values.Clear();
            }
            else
            {
                values.Add(value);
            }
        }

        return values;
    }

    /// <summary>The command line of <c>ExecStart=</c>, split as systemd splits it (double quotes group words).</summary>
    public IReadOnlyList<string> ExecStart => Words(Single("ExecStart") ?? throw new InvalidOperationException("the unit has no ExecStart="));

    /// <summary>
    /// The service's environment from <c>Environment=</c> and then <c>EnvironmentFile=</c> (which wins),
    /// with <c>%d</c> replaced by <paramref name="credentialsDirectory"/>.
    /// </summary>
    public Dictionary<string, string> Environment(string credentialsDirectory)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var assignment in All("Environment").SelectMany(Words))
        {
            var equals = assignment.IndexOf('=', StringComparison.Ordinal);
            environment[assignment[..equals]] = assignment[(equals + 1)..].Replace("%d", credentialsDirectory, StringComparison.Ordinal);
        }

        foreach (var entry in All("EnvironmentFile"))
        {
            var optional = entry.StartsWith('-');
            var path = optional ? entry[1..] : entry;
            if (!File.Exists(path))
            {
                if (optional)
                {
                    continue;
                }

                throw new FileNotFoundException($"EnvironmentFile {path} does not exist");
            }

            foreach (var line in File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] is not ('#' or ';')))
            {
                var equals = line.IndexOf('=', StringComparison.Ordinal);
                environment[line[..equals].Trim()] = line[(equals + 1)..].Trim();
            }
        }

        return environment;
    }

    /// <summary>Each <c>LoadCredential=ID:PATH</c> as (ID, PATH).</summary>
    public IEnumerable<(string Id, string Path)> Credentials =>
        All("LoadCredential").Select(c => (c[..c.IndexOf(':', StringComparison.Ordinal)], c[(c.IndexOf(':', StringComparison.Ordinal) + 1)..]));

    private static List<string> Words(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var quoted = false;
        var inWord = false;
        foreach (var c in line)
        {
            if (c == '"')
            {
                quoted = !quoted;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c) && !quoted)
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }

        if (inWord)
        {
            words.Add(word.ToString());
        }

        return words;
    }
}
