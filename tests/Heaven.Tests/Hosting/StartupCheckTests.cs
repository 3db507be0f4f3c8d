using System.Net;
using System.Net.Sockets;
using Heaven.Configuration;
using Heaven.Hosting;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Hosting;

/// <summary>
/// Every way the start of <c>heaven</c> can go wrong ends alike: exit code 2, one line on stderr that
/// names what to fix, and no stack trace anywhere.
/// </summary>
public sealed class StartupCheckTests
{
    /// <summary>
    /// One wrong value for each registered options class, by the class's name: the setting, the value,
    /// and what the message says. A class registered without an entry here fails the tests below.
    /// </summary>
    private static readonly Dictionary<string, (string Key, string Value, string Message)> BadValues = new()
    {
        ["HeavenOptions"] = ("Heaven:PublicUrl", "heaven.example.com", "Heaven:PublicUrl must be an absolute http(s) URL"),
        ["GitHubOptions"] = ("GitHub:ApiUrl", "not a url", "GitHub:ApiUrl (or OCTOKIT_API_ENDPOINT) must be an absolute http(s) URL"),
        ["WebhookOptions"] = ("Webhooks:MaxBodyBytes", "10", "Webhooks:MaxBodyBytes must be a number of bytes"),
        ["DeploymentOptions"] = ("Deployments:Timeout", "0", "Deployments:Timeout (or DEPLOYMENT_TIMEOUT) must be a whole number of seconds from 1 to 86400; got 0."),
        ["DeployKeyOptions"] = ("Deployments:PrivateKey", "not a key", "Deployments:PrivateKey (or DEPLOYMENT_PRIVATE_KEY) is not a usable private key"),
        ["IsolationOptions"] = ("Deployments:RunAs", "root", "Deployments:RunAs is 'root': deploys never run as root"),
        ["GitOptions"] = ("Git:Executable", " ", "Git:Executable must name the git program"),
        ["CheckoutOptions"] = ("Checkout:AllowLocalRepositories", "maybe", "Checkout:AllowLocalRepositories must be true or false; got 'maybe'."),
        ["HerokuOptions"] = ("Providers:Heroku:ApiUrl", "api.heroku.com", "Providers:Heroku:ApiUrl must be an absolute http(s) URL"),
        ["ElasticBeanstalkOptions"] = ("Providers:ElasticBeanstalk:Region", "Mars 1", "Providers:ElasticBeanstalk:Region must be an AWS region name"),
        ["DplOptions"] = ("Providers:Dpl:Command", " ", "Providers:Dpl:Command must name the dpl program"),
        ["ReconciliationOptions"] = ("Reconciliation:Interval", "-1", "Reconciliation:Interval must be a whole number of seconds from 0 (off) to 604800; got -1."),
        ["TargetPolicyOptions"] = ("Providers:RequireTargetLists", "maybe", "Providers:RequireTargetLists must be true or false; got 'maybe'."),
        ["FabricOptions"] = ("Providers:Fabric:CommandFormat", "fab %{nosuch}", "Providers:Fabric:CommandFormat (or DEPLOY_COMMAND_FORMAT) is not a usable command"),
        ["BundlerOptions"] = ("Providers:Bundler:Without", "development test", "Providers:Bundler:Without must list Bundler groups"),
        ["RepositoryOptions"] = ("Repositories:octo/app:Provider", "nosuch", "Repositories:octo/app:Provider is 'nosuch', which is not one of Heaven's providers"),
        ["DatabaseOptions"] = ("Database:Provider", "mysql", "Database:Provider must be sqlite or postgres; got 'mysql'."),
        ["RetentionOptions"] = ("Retention:Interval", "-01:00:00", "Retention:Interval must be a positive duration"),
        ["StatusDeliveryOptions"] = ("GitHub:StatusDelivery:PollInterval", "00:00:00", "GitHub:StatusDelivery:PollInterval must be a positive duration"),
        ["NotificationOptions"] = ("Notifications:DisplayCommitsLimit", "0", "Notifications:DisplayCommitsLimit (or HEAVEN_NOTIFIER_DISPLAY_COMMITS_LIMIT) must be between 1 and"),
        ["OutputOptions"] = ("Output:MaxLogBytes", "10", "Output:MaxLogBytes must be a number of bytes"),
        ["LockOptions"] = ("Locks:DefaultTtl", "-01:00:00", "Locks:DefaultTtl must be a positive time span"),
        ["WebOptions"] = ("Web:PermissionCacheSeconds", "-1", "Web:PermissionCacheSeconds must be a number of seconds from 0 to 3600; got -1."),
        ["AutoDeployOptions"] = ("AutoDeploy:Delivery:PollInterval", "00:00:00", "AutoDeploy:Delivery:PollInterval must be a positive duration"),
        ["MetricsOptions"] = ("Metrics:AllowFrom:0", "prometheus.internal", "Metrics:AllowFrom:0 must be an IP address or network such as 10.0.0.5 or 10.0.0.0/8; got 'prometheus.internal'."),
    };

    /// <summary>The options classes Heaven registers, read from its container (not listed by hand).</summary>
    public static TheoryData<string> RegisteredOptionsTypes()
    {
        var data = new TheoryData<string>();
        foreach (var name in RegisteredOptionsTypeNames())
        {
            data.Add(name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RegisteredOptionsTypes))]
    public async Task AWrongValueInAnyRegisteredOptions_StopsTheStartWithOneLineNamingTheSetting(string optionsType)
    {
        BadValues.ShouldContainKey(optionsType, $"{optionsType} is registered, so it is checked at start: give it a wrong value in {nameof(BadValues)}.");
        var (key, value, message) = BadValues[optionsType];

        var (exitCode, output, error) = await RunServerAsync([$"--{key}={value}"]);

        StartupFailure.ShouldBeOneLine(exitCode, output, error, message);
        error.ShouldContain(key);
    }

    [Fact]
    public void TheWrongValues_CoverExactlyTheRegisteredOptions()
    {
        BadValues.Keys.Order(StringComparer.Ordinal).ShouldBe(RegisteredOptionsTypeNames().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task AWrongBundlerSetting_FromTheOriginalsVariables_IsOneLineNotAStackTrace()
    {
        var (exitCode, output, error) = await RunServerAsync([], new Dictionary<string, string> { ["BUNDLER_PRIVATE_SOURCE"] = "gems.example.com" });

        StartupFailure.ShouldBeOneLine(
            exitCode,
            output,
            error,
            "Providers:Bundler:PrivateSource (or BUNDLER_PRIVATE_SOURCE) and Providers:Bundler:PrivateCredentials (or BUNDLER_PRIVATE_CREDENTIALS) go together: set both or neither.");
    }

    [Fact]
    public async Task ACloneHostGivenAsAUrl_IsNamed()
    {
        var (exitCode, output, error) = await RunServerAsync(["--GitHub:CloneHosts:0=git.example.com", "--GitHub:CloneHosts:1=https://ghe.example.com"]);

        StartupFailure.ShouldBeOneLine(exitCode, output, error, "GitHub:CloneHosts entries are host names such as git.example.com (no scheme, port or path); got 'https://ghe.example.com'.");
    }

    [Theory]
    [InlineData("--Web:AllowedTeams:0=deployers", "Web:AllowedTeams entries are organization/team-slug, such as octo-org/deployers; got 'deployers'.")]
    [InlineData("--Web:AllowedUsers:0=octo cat", "Web:AllowedUsers, Web:AllowedOrganizations and Web:Administrators hold GitHub logins and organization names (letters, digits, hyphens); got 'octo cat'.")]
    [InlineData("--GitHub:TeamId=octo-org/ops", "GitHub:TeamId (or GITHUB_TEAM_ID) must be a team's numeric id (GET /orgs/ORG/teams/SLUG shows it; Web:AllowedTeams takes org/team-slug); got 'octo-org/ops'.")]
    public async Task AWrongSignInSetting_IsNamed(string argument, string message)
    {
        var (exitCode, output, error) = await RunServerAsync([argument]);

        StartupFailure.ShouldBeOneLine(exitCode, output, error, message);
    }

    [Fact]
    public async Task AnUnknownConcurrencyPolicy_ListsTheValidOnes()
    {
        var (exitCode, output, error) = await RunServerAsync(["--Deployments:Concurrency=sometimes"]);

        StartupFailure.ShouldBeOneLine(exitCode, output, error, "Deployments:Concurrency must be reject, queue or supersede; got 'sometimes'.");
    }

    [Fact]
    public async Task ANegativeDrainTimeout_IsNamed()
    {
        var (exitCode, output, error) = await RunServerAsync(["--Deployments:DrainTimeout=-1"]);

        StartupFailure.ShouldBeOneLine(exitCode, output, error, "Deployments:DrainTimeout must be a whole number of seconds from 0 (cancel running deploys at once) to 86400; got -1.");
    }

    [Fact]
    public async Task APortAlreadyInUse_IsNamed()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var address = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";

        var (exitCode, output, error) = await RunServerAsync([], urls: address);

        StartupFailure.ShouldBeOneLine(exitCode, output, error, $"Heaven cannot listen on {address}: the address is already in use.");
        error.ShouldContain("--urls (or ASPNETCORE_URLS)");
    }

    [Fact]
    public async Task AnInvalidUrls_IsNamed()
    {
        var (exitCode, output, error) = await RunServerAsync([], urls: "notaurl");

        StartupFailure.ShouldBeOneLine(exitCode, output, error, "--urls (or ASPNETCORE_URLS) must be one or more addresses such as http://*:8080 or http://127.0.0.1:9000, separated by ';'; got 'notaurl'.");
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunServerAsync(
        string[] args,
        Dictionary<string, string>? environment = null,
        string urls = "http://127.0.0.1:0")
    {
        using var directory = new TemporaryDirectory();
        var all = new Dictionary<string, string>
        {
            ["HEAVEN_DATA_DIR"] = Path.Combine(directory.Path, "data"),
            ["GITHUB_WEBHOOK_SECRET"] = "startup-check-secret-0123456789",
        };
        foreach (var (key, value) in environment ?? [])
        {
            all[key] = value;
        }

        return await HeavenProcess.RunAsync(all, ["serve", "--urls", urls, .. args]);
    }

    private static List<string> RegisteredOptionsTypeNames()
    {
        using var directory = new TemporaryDirectory();
        var builder = HeavenApp.CreateBuilder([$"--DataDirectory={Path.Combine(directory.Path, "data")}"], new Dictionary<string, string?>());
        using var app = HeavenApp.Build(builder);
        return app.Services.GetServices<RegisteredOptions>().Select(r => r.OptionsType.Name).ToList();
    }
}

/// <summary>What an operator sees when Heaven cannot start.</summary>
internal static class StartupFailure
{
    public static void ShouldBeOneLine(int exitCode, string output, string error, string expected)
    {
        exitCode.ShouldBe(2, $"stderr:\n{error}\nstdout:\n{output}");
        error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .ShouldHaveSingleItem($"one line on stderr; it printed:\n{error}")
            .ShouldContain(expected, Case.Sensitive);
        foreach (var text in new[] { output, error })
        {
            text.ShouldNotContain("   at ");
            text.ShouldNotContain("Unhandled exception");
            text.ShouldNotContain("Hosting failed to start");
            text.ShouldNotContain("crit:");
            text.ShouldNotContain("fail:");
        }

        output.ShouldNotContain("Heaven is running.");
    }
}
