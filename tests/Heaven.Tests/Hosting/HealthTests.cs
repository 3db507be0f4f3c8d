using System.Net;
using System.Text.Json;
using Heaven.Storage;
using Heaven.Tests.Infrastructure;
using Heaven.Web;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Heaven.Tests.Hosting;

public sealed class HealthTests
{
    [Fact]
    public async Task AHealthyServer_Answers200WithEachCheck()
    {
        await using var host = await HeavenTestHost.StartAsync();

        var response = await host.Client.GetAsync("/healthz");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        body.GetProperty("status").GetString().ShouldBe("healthy");
        body.GetProperty("checks").EnumerateObject().Select(p => (p.Name, p.Value.GetString()))
            .ShouldBe([("database", "ok"), ("data-directory", "ok"), ("git", "ok"), ("isolation", "ok"), ("draining", "ok")], ignoreOrder: true);
        body.GetProperty("draining").GetBoolean().ShouldBeFalse();
    }

    [Fact]
    public async Task WithoutGit_Answers503NamingGit()
    {
        await using var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?> { ["Git:Executable"] = "/nonexistent/git" });

        var response = await host.Client.GetAsync("/healthz");

        response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        var checks = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("checks");
        checks.GetProperty("git").GetString()!.ShouldContain("git (/nonexistent/git) was not found");
        checks.GetProperty("database").GetString().ShouldBe("ok");
    }

    [Fact]
    public async Task WhenTheDataDirectoryIsGone_Answers503NamingIt()
    {
        await using var host = await HeavenTestHost.StartAsync();
        var data = host.DataDirectory;
        var moved = data + "-moved";
        Directory.Move(data, moved);
        await File.WriteAllTextAsync(data, "a file where the folder was");
        try
        {
            var response = await host.Client.GetAsync("/healthz");

            response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
            var checks = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("checks");
            checks.GetProperty("data-directory").GetString()!.ShouldContain($"data directory {data} is not writable");
        }
        finally
        {
            File.Delete(data);
            Directory.Move(moved, data);
        }
    }

    [Fact]
    public async Task AnUnreachableDatabase_IsUnhealthyWithoutConnectionDetails()
    {
        var options = new DbContextOptionsBuilder<PostgresHeavenDbContext>()
            .UseNpgsql("Host=127.0.0.1;Port=1;Database=heaven;Username=heaven;Password=hunter2;Timeout=2")
            .Options;
        var factory = new Microsoft.EntityFrameworkCore.Infrastructure.PooledDbContextFactory<PostgresHeavenDbContext>(options);
        var check = new DatabaseHealthCheck(new HeavenDatabase<PostgresHeavenDbContext>(factory, DatabaseProvider.Postgres));

        var result = await check.CheckHealthAsync(new HealthCheckContext());

        result.Status.ShouldBe(HealthStatus.Unhealthy);
        result.Description!.ShouldContain("the Postgres database cannot be reached");
        result.Description!.ShouldNotContain("hunter2");
    }
}
