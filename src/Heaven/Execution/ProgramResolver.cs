namespace Heaven.Execution;

/// <summary>
/// Finds the program before anything starts, the way execvp would in the child (through the deploy's
/// own PATH, relative paths against the working directory), so a missing tool is a clear
/// <see cref="ProcessStartException"/> rather than an exit code 127 from setsid.
/// </summary>
internal static class ProgramResolver
{
    public static string Resolve(ProcessSpec spec)
    {
        if (string.IsNullOrWhiteSpace(spec.FileName))
        {
            throw new ProcessStartException("No program to run was given.");
        }

        if (string.IsNullOrWhiteSpace(spec.WorkingDirectory) || !Directory.Exists(spec.WorkingDirectory))
        {
            throw new ProcessStartException($"Cannot start {spec.FileName}: the working directory '{spec.WorkingDirectory}' does not exist.");
        }

        var workingDirectory = Path.GetFullPath(spec.WorkingDirectory);
        if (spec.FileName.Contains('/'))
        {
            var path = Path.GetFullPath(spec.FileName, workingDirectory);
            if (!File.Exists(path))
            {
                throw new ProcessStartException($"Cannot start {spec.FileName}: no such file.");
            }

            return Posix.CanExecute(path) ? path : throw new ProcessStartException($"Cannot start {spec.FileName}: the file is not executable.");
        }

        var search = spec.Environment.TryGetValue("PATH", out var value) && !string.IsNullOrEmpty(value) ? value : ChildEnvironment.DefaultPath;
        foreach (var directory in search.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(Path.GetFullPath(directory, workingDirectory), spec.FileName);
            if (File.Exists(candidate) && Posix.CanExecute(candidate))
            {
                return candidate;
            }
        }

        // The PATH itself is not quoted: it is part of the deploy's environment.
        throw new ProcessStartException($"Cannot start {spec.FileName}: it is not an executable in any directory of the deploy's PATH.");
    }

    /// <summary>
    /// Heaven's own tools (ssh-agent, bwrap): the first executable <paramref name="program"/> in an
    /// absolute directory of <paramref name="path"/> (the default PATH when empty), or null.
    /// </summary>
    public static string? FindOnPath(string program, string? path) =>
        (string.IsNullOrEmpty(path) ? ChildEnvironment.DefaultPath : path)
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(candidate => Path.IsPathRooted(candidate) && File.Exists(candidate) && Posix.CanExecute(candidate));
}
