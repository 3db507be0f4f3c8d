namespace Heaven.Tests.Infrastructure;

/// <summary>Looks for live processes by their command line, as <c>ps</c> would.</summary>
public static class ProcessTable
{
    public static IReadOnlyList<int> WithCommandLineContaining(string text)
    {
        var found = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }

            try
            {
                var commandLine = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var state = stat[(stat.LastIndexOf(')') + 2)..][0];
                if (commandLine.Contains(text, StringComparison.Ordinal) && state != 'Z')
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
                // The process ended while we looked.
            }
        }

        return found;
    }

    /// <summary>Waits for processes to go (signals and reaping take a moment); returns the ones left after <paramref name="grace"/>.</summary>
    public static async Task<IReadOnlyList<int>> LeftoverAsync(string text, TimeSpan? grace = null)
    {
        try
        {
            await Poll.UntilAsync(() => WithCommandLineContaining(text).Count == 0, $"processes naming {text} to end", grace ?? TimeSpan.FromSeconds(20));
        }
        catch (TimeoutException)
        {
            // The caller asserts on what is left, with its own words.
        }

        return WithCommandLineContaining(text);
    }
}
