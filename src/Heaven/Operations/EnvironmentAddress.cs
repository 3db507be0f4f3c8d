namespace Heaven.Operations;

/// <summary>
/// An environment name in an address. GitHub allows '/' in environment names ("production/eu"); in an
/// address the name is one path segment, its '/' sent as <c>%2F</c>. The server decodes every other
/// escape of the path but keeps <c>%2F</c> as it came (so it is not taken for a segment boundary):
/// the route value is turned back into the name here.
/// </summary>
public static class EnvironmentAddress
{
    /// <summary>The environment name of a route value: <c>production%2Feu</c> is <c>production/eu</c>.</summary>
    public static string FromRoute(string segment) =>
        segment.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);

    /// <summary>The path segment of an environment name; the inverse of <see cref="FromRoute"/>.</summary>
    public static string ToSegment(string environment) => Uri.EscapeDataString(environment);
}
