using Heaven.Configuration;
using Heaven.Deployments;
using Heaven.GitHub;
using Heaven.Hosting;
using Heaven.Storage;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Heaven.Tests.Configuration;

/// <summary>Settings the .NET way, the original Heaven's variables too, and clear words when one is wrong.</summary>
public sealed class SettingsTests
{
    [Fact]
    public async Task OriginalHeavenVariables_FeedTheSameSettings()
    {
        await using var host = await HeavenTestHost.StartAsync(legacyEnvironment: new Dictionary<string, string?>
        {
            ["GITHUB_TOKEN"] = "ghp_legacytoken",
            ["OCTOKIT_API_ENDPOINT"] = "https://ghe.example.com/api/v3",
            ["OCTOKIT_WEB_ENDPOINT"] = "https://ghe.example.com/",
            ["DEPLOYMENT_TIMEOUT"] = "900",
            ["HUBOT_DEPLOY_PREFIX"] = "ship",
        });

        var github = host.Services.GetRequiredService<IOptions<GitHubOptions>>().Value;
        github.Token.ShouldBe("ghp_legacytoken");
        github.ApiUrl.ShouldBe("https://ghe.example.com/api/v3");
        github.WebUrl.ShouldBe("https://ghe.example.com/");
        var deployments = host.Services.GetRequiredService<IOptions<DeploymentOptions>>().Value;
        deployments.Timeout.ShouldBe(900);
        deployments.TaskPrefix.ShouldBe("ship");
    }

    [Fact]
    public void DotNetKeys_WinOverTheOriginalsVariables()
    {
        var builder = HeavenApp.CreateBuilder(["--GitHub:Token=from-command-line"], new Dictionary<string, string?>
        {
            ["GITHUB_TOKEN"] = "from-legacy-variable",
            ["DEPLOYMENT_TIMEOUT"] = "120",
        });

        builder.Configuration["GitHub:Token"].ShouldBe("from-command-line");
        builder.Configuration["Deployments:Timeout"].ShouldBe("120");
    }

    [Fact]
    public void DefaultsAreWhatTheReadmeSays()
    {
        var builder = HeavenApp.CreateBuilder([], new Dictionary<string, string?>());

        builder.Configuration["urls"].ShouldBe("http://*:8080");
        new DeploymentOptions().Timeout.ShouldBe(300);
        new DeploymentOptions().TaskPrefix.ShouldBe("deploy");
        new Heaven.Intake.WebhookOptions().MaxBodyBytes.ShouldBe(25 * 1024 * 1024);
        new GitHubOptions().ApiUrl.ShouldBe("https://api.github.com/");
        new HeavenOptions().LogLinkLifetime.ShouldBe(TimeSpan.FromDays(90));
    }

    [Theory]
    [InlineData("0", "got 00:00:00.")]
    [InlineData("00:00:30", "got 00:00:30.")]
    [InlineData("3651", "got 3651.00:00:00.")]
    public async Task ALogLinkLifetimeOutOfRange_StopsTheStart(string value, string got)
    {
        var error = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?> { ["Heaven:LogLinkLifetime"] = value }));

        error.Message.ShouldBe($"Heaven:LogLinkLifetime must be a duration from 00:01:00 to 3650.00:00:00 (days.hours:minutes:seconds, e.g. 90.00:00:00 for 90 days); {got}");
    }

    [Fact]
    public void UrlsFromTheCommandLine_ReplaceTheDefaultPort()
    {
        var builder = HeavenApp.CreateBuilder(["--urls", "http://127.0.0.1:9999"], new Dictionary<string, string?>());

        builder.Configuration["urls"].ShouldBe("http://127.0.0.1:9999");
    }

    [Theory]
    [InlineData("DEPLOYMENT_TIMEOUT", "abc", "Deployments:Timeout (or DEPLOYMENT_TIMEOUT) must be a whole number; got 'abc'.")]
    [InlineData("DEPLOYMENT_TIMEOUT", "0", "Deployments:Timeout (or DEPLOYMENT_TIMEOUT) must be a whole number of seconds from 1 to 86400; got 0.")]
    [InlineData("OCTOKIT_API_ENDPOINT", "not a url", "GitHub:ApiUrl (or OCTOKIT_API_ENDPOINT) must be an absolute http(s) URL")]
    [InlineData("HUBOT_DEPLOY_PREFIX", "de ploy", "Deployments:TaskPrefix (or HUBOT_DEPLOY_PREFIX) must be a word")]
    [InlineData("DATABASE_URL", "mysql://db/heaven", "Database:Url (or DATABASE_URL) must be a PostgreSQL URL")]
    public async Task AWrongValue_StopsTheStartNamingTheSettingAndWhatIsExpected(string variable, string value, string message)
    {
        var error = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(
            legacyEnvironment: new Dictionary<string, string?> { [variable] = value }));

        // One line per wrong setting, and nothing else.
        error.Message.Split('\n').ShouldHaveSingleItem().ShouldContain(message);
    }

    [Fact]
    public async Task SeveralWrongValues_AreAllReportedAtOnce()
    {
        var error = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Webhooks:MaxBodyBytes"] = "10",
            ["Webhooks:AllowedRepositories:0"] = "not a pattern",
            ["Heaven:PublicUrl"] = "heaven.example.com",
        }));

        error.Message.ShouldContain("Webhooks:MaxBodyBytes must be a number of bytes");
        error.Message.ShouldContain("Webhooks:AllowedRepositories entries must look like 'owner/name' or 'owner/*'; got 'not a pattern'.");
        error.Message.ShouldContain("Heaven:PublicUrl must be an absolute http(s) URL");
    }

    [Fact]
    public async Task AWrongToken_IsReportedWithoutRepeatingIt()
    {
        var error = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["GitHub:Token"] = "ghp_secret part",
        }));

        error.Message.ShouldContain("GitHub:Token (or GITHUB_TOKEN) contains whitespace");
        error.Message.ShouldNotContain("ghp_secret");
    }

    [Fact]
    public void DatabaseUrl_BecomesAPostgresConnectionString()
    {
        var options = new DatabaseOptions { Url = "postgres://heaven:p%40ss@db.internal:6543/heaven_prod?sslmode=require" };

        options.Validate().ShouldBeEmpty();
        var (provider, connectionString) = options.Resolve(new DataDirectory("/tmp/unused"));
        provider.ShouldBe(DatabaseProvider.Postgres);
        var parsed = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        (parsed.Host, parsed.Port, parsed.Database, parsed.Username, parsed.Password, parsed.SslMode)
            .ShouldBe(("db.internal", 6543, "heaven_prod", "heaven", "p@ss", Npgsql.SslMode.Require));
    }

    [Fact]
    public void PostgresWithoutAConnection_IsExplained()
    {
        var problems = new DatabaseOptions { Provider = DatabaseProvider.Postgres }.Validate().ToList();

        problems.ShouldHaveSingleItem().ShouldContain("Database:ConnectionString");
    }

    [Fact]
    public void PostgresConnectionStringProblems_NeverEchoThePassword()
    {
        var problems = new DatabaseOptions { Provider = DatabaseProvider.Postgres, ConnectionString = "Host=db;Password=hunter2;Nonsense Key=1" }.Validate().ToList();

        problems.ShouldHaveSingleItem().ShouldNotContain("hunter2");
    }

    [Fact]
    public async Task DataDirectoryFromTheOriginalsStyleVariable_IsUsedAndCreated()
    {
        using var directory = new TemporaryDirectory();
        var target = Path.Combine(directory.Path, "nested", "state");

        await using var host = await HeavenTestHost.StartAsync(
            new Dictionary<string, string?> { ["DataDirectory"] = null },
            legacyEnvironment: new Dictionary<string, string?> { ["HEAVEN_DATA_DIR"] = target });

        host.Services.GetRequiredService<DataDirectory>().FullPath.ShouldBe(target);
        File.Exists(Path.Combine(target, DatabaseOptions.SqliteFileName)).ShouldBeTrue();
    }
}
