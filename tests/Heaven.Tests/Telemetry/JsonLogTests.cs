using System.Net;
using System.Text.Json;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Telemetry;

/// <summary>The console log for log shippers: .NET's JSON formatter, and nothing else on standard output.</summary>
[Collection(HeavyHostsCollection.Name)]
public sealed class JsonLogTests
{
    private const string Secret = "json-log-test-secret-0123456789";

    [Fact]
    public async Task WithTheJsonFormatter_EveryLineOnStandardOutputIsJson_AndADeploysLinesNameItsIdAndRepository()
    {
        using var directory = new TemporaryDirectory();
        using var repository = new TestRepository();
        await using var gitHub = await FakeGitHub.StartAsync();
        var sha = repository.CommitDeployScript("echo deployed");
        var environment = new Dictionary<string, string>
        {
            ["HEAVEN_DATA_DIR"] = Path.Combine(directory.Path, "data"),
            ["GITHUB_WEBHOOK_SECRET"] = Secret,
            ["GitHub__ApiUrl"] = gitHub.ApiUrl,
            ["GitHub__Token"] = "json-log-test-token",
            ["Output__MirrorToGist"] = "false",
            ["Deployments__Isolation"] = "none",
            ["Checkout__AllowLocalRepositories"] = "true",
            ["Logging__Console__FormatterName"] = "json",
        };
        var (body, gitHubId) = DeploymentWebhook.For(repository, sha);

        await using var heaven = await HeavenProcess.StartAsync(environment);
        var answer = await heaven.Client.SendAsync(Webhook.Request("deployment", body, Guid.NewGuid().ToString(), Secret));
        answer.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var heavenId = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("deployment").GetInt64();
        await gitHub.WaitForStatusAsync(s => s.DeploymentId == gitHubId && s.State == "success");
        await heaven.WaitForOutputAsync($"Deployment {heavenId} finished");

        var lines = heaven.StandardOutputLines;
        var entries = lines.Select(line => Parse(line)).ToList();
        foreach (var entry in entries)
        {
            foreach (var field in new[] { "Timestamp", "LogLevel", "EventId", "Category", "Message" })
            {
                entry.TryGetProperty(field, out var _).ShouldBeTrue($"{field} in {entry}");
            }
        }

        // The start-up report is a JSON line too.
        entries.ShouldContain(e => e.GetProperty("Message").GetString()!.StartsWith("Heaven is running.", StringComparison.Ordinal));
        var finished = entries.Single(e => e.GetProperty("Message").GetString()!.StartsWith($"Deployment {heavenId} finished", StringComparison.Ordinal));
        var scope = finished.GetProperty("Scopes").EnumerateArray().Single(s => s.TryGetProperty("DeploymentId", out _));
        scope.GetProperty("DeploymentId").GetInt64().ShouldBe(heavenId);
        scope.GetProperty("Repository").GetString().ShouldBe(repository.FullName);
        DateTimeOffset.TryParse(finished.GetProperty("Timestamp").GetString(), out _).ShouldBeTrue();
    }

    private static JsonElement Parse(string line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ShouldAssertException($"A line on standard output is not JSON ({e.Message}): {line}");
        }
    }
}
