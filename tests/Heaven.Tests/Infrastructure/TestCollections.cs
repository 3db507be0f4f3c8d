namespace Heaven.Tests.Infrastructure;

/// <summary>
/// The PostgreSQL tests and the tests that start the real <c>heaven</c> executable: each starts whole
/// Heaven nodes (two at once on PostgreSQL) or a new .NET process per command, so they run one at a
/// time, beside the light tests rather than beside each other. (The ssh deploys, heavier still, run
/// alone: <see cref="SshDeploysCollection"/>.)
/// </summary>
[CollectionDefinition(Name)]
public sealed class HeavyHostsCollection
{
    public const string Name = "postgres and heaven processes";
}

/// <summary>
/// A test that needs the PostgreSQL server named by <c>HEAVEN_TEST_POSTGRES</c>: without it the test
/// is skipped, saying how to run it, rather than failed. ./test.sh starts a server and sets the variable.
/// </summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (!PostgresDatabase.Configured)
        {
            Skip = PostgresDatabase.SkipReason;
        }
    }
}

/// <summary>As <see cref="PostgresFactAttribute"/>, for a theory.</summary>
public sealed class PostgresTheoryAttribute : TheoryAttribute
{
    public PostgresTheoryAttribute()
    {
        if (!PostgresDatabase.Configured)
        {
            Skip = PostgresDatabase.SkipReason;
        }
    }
}

/// <summary>
/// A test of deploy isolation as CI runs it: as root (Heaven switches users) with bubblewrap installed.
/// Elsewhere the test is skipped, saying why; ./test.sh installs bubblewrap and CI runs as root.
/// </summary>
public sealed class IsolationTheoryAttribute : TheoryAttribute
{
    public IsolationTheoryAttribute()
    {
        if (IsolationHost.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>As <see cref="IsolationTheoryAttribute"/>, for a fact.</summary>
public sealed class IsolationFactAttribute : FactAttribute
{
    public IsolationFactAttribute()
    {
        if (IsolationHost.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

internal static class IsolationHost
{
    public static string? SkipReason =>
        Heaven.Execution.Posix.EffectiveUserId != 0 ? "needs root, so that Heaven can switch users (CI runs the suite as root)"
        : !File.Exists("/usr/bin/bwrap") ? "needs bubblewrap (/usr/bin/bwrap; ./test.sh installs it)"
        : null;
}

/// <summary>
/// The tests that drive Chromium: one browser for all of them (<see cref="BrowserFixture"/>), one test
/// at a time (a browser with its renderer processes is the heaviest thing a test starts), beside the
/// light tests.
/// </summary>
[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "browser";
}

/// <summary>
/// A test that starts (and restarts) a PostgreSQL server of its own (<see cref="PostgresServer"/>):
/// skipped, saying why, where PostgreSQL's binaries are not installed.
/// </summary>
public sealed class PostgresServerFactAttribute : FactAttribute
{
    public PostgresServerFactAttribute()
    {
        if (PostgresServer.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>
/// Three real <c>heaven</c> processes on a PostgreSQL server of their own, killed, drained and left
/// without their database. Each such test keeps both cores busy for a while, so the collection runs
/// alone, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SeveralNodesCollection
{
    public const string Name = "several heaven nodes";
}
