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

    private static async Task<string> ReportAsync(Dictionary<string, string?> settings)
    {
        await using var host = await HeavenTestHost.StartAsync(settings);
        using var output = new StringWriter();
        StartupReport.Write(host.Services, output);
        return output.ToString();
    }
}
