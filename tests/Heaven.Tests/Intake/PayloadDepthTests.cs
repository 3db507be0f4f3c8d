using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Intake;

/// <summary>Nesting deeper than Heaven reads is a bad payload (400 naming the limit), never a server error.</summary>
public sealed class PayloadDepthTests : IAsyncLifetime
{
    private HeavenTestHost host = null!;

    public async Task InitializeAsync() => host = await HeavenTestHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Theory]
    [InlineData(70)]
    [InlineData(200)]
    [InlineData(5000)]
    public async Task DeploymentPayloadNestedTooDeep_Returns400(int depth)
    {
        var body = JsonNode.Parse(Fixtures.Read("deployment.json"))!;
        body["deployment"]!["payload"]!["deep"] = Placeholder;

        var response = await host.SendWebhookAsync("deployment", WithNesting(body, depth));

        await ShouldBeRefusedForDepthAsync(response);
    }

    [Theory]
    [InlineData("deployment_status", "deployment-success.json")]
    [InlineData("status", "status_success.json")]
    public async Task EventNestedTooDeep_Returns400(string eventName, string fixture)
    {
        var body = JsonNode.Parse(Fixtures.Read(fixture))!;
        body["extra"] = Placeholder;

        var response = await host.SendWebhookAsync(eventName, WithNesting(body, 100));

        await ShouldBeRefusedForDepthAsync(response);
    }

    [Fact]
    public async Task AMemberNamedTwiceAnywhere_Returns400()
    {
        var body = Fixtures.Read("deployment.json").Replace("\"environment\":", "\"environment\": \"staging\", \"environment\":", StringComparison.Ordinal);

        var response = await host.SendWebhookAsync("deployment", body);

        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, text);
        text.ShouldContain("environment");
        await host.ShouldHaveStoredNothingAsync();
    }

    private async Task ShouldBeRefusedForDepthAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, text);
        using var answer = JsonDocument.Parse(text);
        answer.RootElement.GetProperty("result").GetString().ShouldBe("rejected");
        answer.RootElement.GetProperty("message").GetString()!.ShouldContain("nested deeper than 64 levels, the most Heaven reads");
        await host.ShouldHaveStoredNothingAsync();
    }

    private const string Placeholder = "nested-here";

    /// <summary>The body's text with <paramref name="depth"/> nested objects where the placeholder is.</summary>
    private static string WithNesting(JsonNode body, int depth)
    {
        var nested = new StringBuilder().Insert(0, "{\"a\":", depth).Append('1').Append('}', depth).ToString();
        return body.ToJsonString().Replace($"\"{Placeholder}\"", nested, StringComparison.Ordinal);
    }
}
