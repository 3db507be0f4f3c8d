namespace Heaven.Providers;

/// <summary>How a command line is shown in the log: as a shell would need it typed, so a reader sees where each argument ends.</summary>
/// <remarks>Display only: the child always gets its argument vector as it is, never a string a shell parses.</remarks>
internal static class CommandLine
{
    public static string Display(IEnumerable<string> arguments) => string.Join(' ', arguments.Select(Quoted));

    private static string Quoted(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "_-./:=@,+%".Contains(c))
            ? argument
            : "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
