namespace Heaven.Execution;

// Placeholder until the process runner lands.
public static class ChildEnvironment
{
    public static Dictionary<string, string> Create() => new() { ["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin" };
}
