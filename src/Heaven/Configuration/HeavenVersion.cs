using System.Reflection;

namespace Heaven.Configuration;

/// <summary>The version this build of Heaven is, in one place for everything that names it.</summary>
public static class HeavenVersion
{
    /// <summary>The assembly's informational version: what <c>heaven --version</c> prints, the nodes list shows and a refused newer schema names.</summary>
    public static string Current { get; } =
        typeof(HeavenVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(HeavenVersion).Assembly.GetName().Version?.ToString()
        ?? "unknown";
}
