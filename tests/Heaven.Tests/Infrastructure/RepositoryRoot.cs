namespace Heaven.Tests.Infrastructure;

/// <summary>The checkout the tests run from (where Heaven.slnx is), for tests that read its documents.</summary>
internal static class RepositoryRoot
{
    public static string Path { get; } = Find()
        ?? throw new InvalidOperationException($"Heaven.slnx was not found above {AppContext.BaseDirectory}.");

    private static string? Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "Heaven.slnx")))
            {
                return directory.FullName;
            }
        }

        return null;
    }
}
