using System.Net;
using System.Text.Json;
using Heaven.Intake;
using Heaven.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Heaven.Tests.Intake;

public sealed class RepositoryAllowListTests
{
    [Fact]
    public async Task EventFromARepositoryOutsideTheList_IsAnsweredIgnoredAndLogged()
    {
        await using var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Webhooks:AllowedRepositories:0"] = "atmos/*",
        });

        var allowed = await host.SendWebhookAsync("deployment", Fixtures.Read("deployment.json"));
        var other = await host.SendWebhookAsync("deployment", Fixtures.Read("deployment-capistrano.json"));

        allowed.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        other.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var answer = JsonDocument.Parse(await other.Content.ReadAsStringAsync()).RootElement;
        answer.GetProperty("result").GetString().ShouldBe("ignored");
        answer.GetProperty("message").GetString().ShouldBe("example-org/example-repo is not in Webhooks:AllowedRepositories; the deployment event was ignored.");
        (await host.QueryAsync(db => db.Deployments.Select(d => d.Repository).ToListAsync())).ShouldBe(["atmos/my-robot"]);
        (await host.QueryAsync(db => db.Deliveries.Where(d => d.Result == DeliveryResult.Ignored).Select(d => d.Repository).ToListAsync()))
            .ShouldBe(["example-org/example-repo"]);
    }

    [Theory]
    [InlineData("atmos/my-robot", "atmos/my-robot", true)]
    [InlineData("atmos/my-robot", "ATMOS/My-Robot", true)]
    [InlineData("atmos/*", "atmos/heaven", true)]
    [InlineData("atmos/*", "atmosphere/heaven", false)]
    [InlineData("atmos/my-robot", "atmos/my-robot-2", false)]
    public void Patterns_MatchWholeNamesOrWholeOwners(string pattern, string repository, bool allowed)
    {
        var list = new RepositoryAllowList(Options.Create(new WebhookOptions { AllowedRepositories = [pattern] }));

        list.Allows(repository).ShouldBe(allowed);
    }

    [Fact]
    public void NoList_AllowsEverything() =>
        new RepositoryAllowList(Options.Create(new WebhookOptions())).Allows("anyone/anything").ShouldBeTrue();
}
