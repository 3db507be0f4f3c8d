using Heaven.Hosting;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Hosting;

/// <summary>What the start-up report tells an operator about credentials every repository shares.</summary>
public sealed class StartupReportTests
{
    private const string SharedWarning = "Warning: server-wide credentials are shared by every repository";

    [Fact]
    public async Task ServerWideCredentials_WithoutRequiredLists_AreReportedAsShared()
    {
        var report = await ReportAsync(new()
        {
            ["Providers:Heroku:ApiKey"] = "HRKU-report-0123456789",
            ["Providers:Dpl:Secrets:s3:AWS_SECRET_ACCESS_KEY"] = "report-secret-0123456789",
        });

        report.ShouldContain($"{SharedWarning}: Providers:Heroku:ApiKey, Providers:Dpl:Secrets.");
        report.ShouldContain("set Providers:RequireTargetLists=true");
        report.ShouldNotContain("HRKU-report-0123456789");
        report.ShouldNotContain("report-secret-0123456789");
    }

    [Fact]
    public async Task RequiredLists_SilenceTheWarning()
    {
        var report = await ReportAsync(new()
        {
            ["Providers:Heroku:ApiKey"] = "HRKU-report-0123456789",
            ["Providers:RequireTargetLists"] = "true",
        });

        report.ShouldNotContain(SharedWarning);
    }

    [Fact]
    public async Task WithoutServerWideCredentials_ThereIsNothingToWarnAbout()
    {
        var report = await ReportAsync([]);

        report.ShouldNotContain(SharedWarning);
        report.ShouldContain("Heaven is running.");
    }

    [Fact]
    public async Task TheReport_SaysWhetherSignInIsOn_AndHowToTurnItOn()
    {
        var off = await ReportAsync([]);
        var nobody = await ReportAsync(new() { ["GitHub:ClientId"] = "Iv1.report", ["GitHub:ClientSecret"] = "report-oauth-secret-0123456789" });
        var on = await ReportAsync(new()
        {
            ["Heaven:PublicUrl"] = "https://heaven.example.com",
            ["GitHub:ClientId"] = "Iv1.report",
            ["GitHub:ClientSecret"] = "report-oauth-secret-0123456789",
            ["Web:AllowedUsers:0"] = "octocat",
            ["Web:AllowedTeams:0"] = "octo-org/deployers",
            ["GitHub:TeamId"] = "4242",
        });

        off.ShouldContain("Sign-in with GitHub is off. To turn it on, register an OAuth app on GitHub (callback URL ");
        off.ShouldContain("/signin-github), set GitHub:ClientId and GitHub:ClientSecret");
        off.ShouldContain("heaven tokens create NAME --scope read|deploy|admin");
        nobody.ShouldContain("Sign-in with GitHub is off: nobody is allowed.");
        on.ShouldContain("Sign-in with GitHub is on, for users octocat; teams octo-org/deployers, id 4242.");
        on.ShouldContain("OAuth app callback URL: https://heaven.example.com/signin-github");
        on.ShouldNotContain("report-oauth-secret-0123456789");
    }

    private static async Task<string> ReportAsync(Dictionary<string, string?> settings)
    {
        await using var host = await HeavenTestHost.StartAsync(settings);
        using var output = new StringWriter();
        StartupReport.Write(host.Services, output);
        return output.ToString();
    }
}
