using Heaven.Configuration;
using Npgsql;

namespace Heaven.Storage;

public enum DatabaseProvider
{
    Sqlite,
    Postgres,
}

/// <summary>
/// Which database Heaven keeps its state in (section <c>Database</c>). SQLite in the data directory by
/// default; PostgreSQL for several nodes, chosen by <c>Database:Provider</c> or a <c>postgres://</c>
/// <c>DATABASE_URL</c> (the original's variable, mapped to <c>Database:Url</c>).
/// </summary>
public sealed class DatabaseOptions : ISelfValidatingOptions
{
    public const string Section = "Database";
    public const string SqliteFileName = "heaven.db";

    public DatabaseProvider? Provider { get; set; }

    /// <summary>An ADO.NET connection string for the chosen provider. Never logged.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>A <c>postgres://user:password@host:port/database</c> URL. Never logged.</summary>
    public string? Url { get; set; }

    public IEnumerable<string> Validate()
    {
        if (!string.IsNullOrWhiteSpace(Url))
        {
            if (!TryConvertUrl(Url, out _, out var problem))
            {
                yield return $"{Setting.Name("Database:Url")} {problem}";
            }

            if (Provider == DatabaseProvider.Sqlite)
            {
                yield return $"Database:Provider is Sqlite but {Setting.Name("Database:Url")} names a PostgreSQL server; remove one of them.";
            }
        }
        else if (Provider == DatabaseProvider.Postgres && string.IsNullOrWhiteSpace(ConnectionString))
        {
            yield return "Database:Provider is Postgres, so Database:ConnectionString (e.g. 'Host=db;Database=heaven;Username=heaven;Password=...') or DATABASE_URL (postgres://user:password@host:5432/heaven) must be set.";
        }
        else if (Provider == DatabaseProvider.Postgres)
        {
            string? problem = null;
            try
            {
                _ = new NpgsqlConnectionStringBuilder(ConnectionString);
            }
            catch (ArgumentException)
            {
                // The connection string holds the password: describe the problem without it.
                problem = "Database:ConnectionString is not a valid PostgreSQL connection string (expected 'Host=...;Database=...;Username=...;Password=...').";
            }

            if (problem is not null)
            {
                yield return problem;
            }
        }
    }

    /// <summary>The engine and connection string to use, with the SQLite default filled in.</summary>
    public (DatabaseProvider Provider, string ConnectionString) Resolve(DataDirectory dataDirectory)
    {
        if (!string.IsNullOrWhiteSpace(Url))
        {
            TryConvertUrl(Url, out var fromUrl, out _);
            return (DatabaseProvider.Postgres, fromUrl!);
        }

        var provider = Provider ?? DatabaseProvider.Sqlite;
        if (provider == DatabaseProvider.Sqlite && string.IsNullOrWhiteSpace(ConnectionString))
        {
            return (provider, $"Data Source={dataDirectory.PathOf(SqliteFileName)}");
        }

        return (provider, ConnectionString!);
    }

    /// <summary>Turns <c>postgres://user:pass@host:port/db?sslmode=require</c> into an Npgsql connection string.</summary>
    internal static bool TryConvertUrl(string url, out string? connectionString, out string problem)
    {
        connectionString = null;
        problem = "";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("postgres" or "postgresql"))
        {
            problem = "must be a PostgreSQL URL such as postgres://user:password@host:5432/heaven.";
            return false;
        }

        var database = uri.AbsolutePath.Trim('/');
        if (string.IsNullOrEmpty(uri.Host) || string.IsNullOrEmpty(database))
        {
            problem = "must name a host and a database, as in postgres://user:password@host:5432/heaven.";
            return false;
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(database),
        };
        var userInfo = uri.UserInfo.Split(':', 2);
        if (userInfo[0].Length > 0)
        {
            builder.Username = Uri.UnescapeDataString(userInfo[0]);
        }

        if (userInfo.Length == 2)
        {
            builder.Password = Uri.UnescapeDataString(userInfo[1]);
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split('=', 2);
            if (parts.Length == 2 && parts[0].Equals("sslmode", StringComparison.OrdinalIgnoreCase)
                && Enum.TryParse<SslMode>(Uri.UnescapeDataString(parts[1]).Replace("-", ""), ignoreCase: true, out var sslMode))
            {
                builder.SslMode = sslMode;
            }
        }

        connectionString = builder.ConnectionString;
        return true;
    }
}
