using System.Net;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Hosting;

/// <summary>The <c>heaven</c> executable as an operator meets it: start, crash, restart, commands.</summary>
public sealed class HeavenProcessTests
{
    private const string Secret = "process-test-secret-0123456789";

    [Fact]
    public async Task AnAcknowledgedDeployment_SurvivesSigkillAndRestart()
    {
        using var directory = new TemporaryDirectory();
        var environment = new Dictionary<string, string>
        {
            ["HEAVEN_DATA_DIR"] = Path.Combine(directory.Path, "data"),
            ["GITHUB_WEBHOOK_SECRET"] = Secret,
        };
        var deliveryId = Guid.NewGuid().ToString();

        await using (var first = await HeavenProcess.StartAsync(environment))
        {
            var response = await first.Client.SendAsync(Webhook.Request("deployment", Fixtures.Read("deployment.json"), deliveryId, Secret));
            response.StatusCode.ShouldBe(HttpStatusCode.Accepted);

            // Killed the moment the answer is in: no graceful shutdown, no flush.
            await first.KillHardAsync();
        }

        await using var second = await HeavenProcess.StartAsync(environment);
        var again = await second.Client.SendAsync(Webhook.Request("deployment", Fixtures.Read("deployment.json"), deliveryId, Secret));
        again.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await again.Content.ReadAsStringAsync()).ShouldContain("already received");

        var (exitCode, output, _) = await HeavenProcess.RunAsync(environment, "deliveries");
        exitCode.ShouldBe(0);
        var line = output.Split('\n').Where(l => l.Contains(deliveryId)).ShouldHaveSingleItem();
        line.ShouldContain(" deployment ");
        line.ShouldContain(" accepted ");
        line.ShouldContain("atmos/my-robot");
    }

    [Fact]
    public async Task Start_PrintsTheWebhookUrlTheSecretsLocationAndWhatIsMissing()
    {
        using var directory = new TemporaryDirectory();
        var data = Path.Combine(directory.Path, "data");

        await using var heaven = await HeavenProcess.StartAsync(new Dictionary<string, string>
        {
            ["HEAVEN_DATA_DIR"] = data,
            ["Heaven__PublicUrl"] = "https://heaven.example.com/",
        });

        // The last part of the start report.
        await heaven.WaitForOutputAsync("Use a token that may write deployments and gists.");
        var output = heaven.Output;
        output.ShouldContain("Payload URL      https://heaven.example.com/events");
        output.ShouldContain($"the contents of {Path.Combine(data, "webhook-secret")}");
        output.ShouldContain("generated just now");
        output.ShouldContain("GitHub:Token (or GITHUB_TOKEN) is not set");
        output.ShouldNotContain(File.ReadAllText(Path.Combine(data, "webhook-secret")).Trim());
        (await heaven.Client.GetAsync("/healthz")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task AWrongSetting_ExitsWithAMessageNamingIt()
    {
        using var directory = new TemporaryDirectory();

        var (exitCode, output, error) = await HeavenProcess.RunAsync(new Dictionary<string, string>
        {
            ["HEAVEN_DATA_DIR"] = Path.Combine(directory.Path, "data"),
            ["DEPLOYMENT_TIMEOUT"] = "five minutes",
        });

        exitCode.ShouldBe(2);
        error.ShouldContain("Deployments:Timeout (or DEPLOYMENT_TIMEOUT) must be a whole number.");
        output.ShouldNotContain("Heaven is running.");
        error.ShouldNotContain("   at ");
    }

    [Fact]
    public async Task Help_ListsTheCommands()
    {
        var (exitCode, output, _) = await HeavenProcess.RunAsync(new Dictionary<string, string>(), "--help");

        exitCode.ShouldBe(0);
        output.ShouldContain("heaven [serve]");
        output.ShouldContain("heaven deliveries");
    }

    [Fact]
    public async Task AnUnknownCommand_SaysSo()
    {
        var (exitCode, _, error) = await HeavenProcess.RunAsync(new Dictionary<string, string>(), "deploy-everything");

        exitCode.ShouldBe(2);
        error.ShouldContain("'deploy-everything' is not a command");
    }
}
