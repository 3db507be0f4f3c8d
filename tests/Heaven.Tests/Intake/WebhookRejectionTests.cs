using System.Net;
using System.Text;
using System.Text.Json;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Intake;

/// <summary>Every way a delivery can be wrong: the answer says what is wrong, and nothing is stored.</summary>
public sealed class WebhookRejectionTests : IAsyncLifetime
{
    private HeavenTestHost host = null!;

    public async Task InitializeAsync() => host = await HeavenTestHost.StartAsync(new Dictionary<string, string?> { ["Webhooks:MaxBodyBytes"] = "65536" });

    public async Task DisposeAsync() => await host.DisposeAsync();

    private static string Deployment => Fixtures.Read("deployment.json");

    [Fact]
    public async Task MissingSignature_Returns401AndStoresNothing()
    {
        var response = await host.SendWebhookAsync("deployment", Deployment, secret: null);

        await ShouldBeRejectedAsync(response, HttpStatusCode.Unauthorized, "X-Hub-Signature-256 header is missing");
    }

    [Fact]
    public async Task SignatureMadeWithAnotherSecret_Returns401AndStoresNothing()
    {
        var response = await host.SendWebhookAsync("deployment", Deployment, secret: "some-other-secret-of-enough-length");

        await ShouldBeRejectedAsync(response, HttpStatusCode.Unauthorized, "does not match");
    }

    [Fact]
    public async Task SignatureOverADifferentBody_Returns401()
    {
        var request = Webhook.Request("deployment", Deployment, Guid.NewGuid().ToString(), HeavenTestHost.Secret);
        request.Content = new StringContent(Deployment.Replace("production", "staging"), Encoding.UTF8, "application/json");

        var response = await host.Client.SendAsync(request);

        await ShouldBeRejectedAsync(response, HttpStatusCode.Unauthorized, "does not match");
    }

    [Theory]
    [InlineData("sha1=0123456789abcdef0123456789abcdef01234567")]
    [InlineData("sha256=not-hex")]
    [InlineData("sha256=")]
    public async Task MalformedSignatureHeader_Returns401(string header)
    {
        var request = Webhook.Request("deployment", Deployment, Guid.NewGuid().ToString(), secret: null);
        request.Headers.Add("X-Hub-Signature-256", header);

        var response = await host.Client.SendAsync(request);

        await ShouldBeRejectedAsync(response, HttpStatusCode.Unauthorized, "sha256=<64 hex digits>");
    }

    [Fact]
    public async Task FormEncodedDelivery_Returns415NamingTheFix()
    {
        var response = await host.SendWebhookAsync("deployment", "payload=" + Uri.EscapeDataString(Deployment), contentType: "application/x-www-form-urlencoded");

        await ShouldBeRejectedAsync(response, HttpStatusCode.UnsupportedMediaType, "set 'Content type' to application/json");
    }

    [Fact]
    public async Task JsonWithCharset_IsAccepted()
    {
        var response = await host.SendWebhookAsync("ping", Fixtures.Read("ping.json"), contentType: "application/json; charset=utf-8");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task BodyOverTheLimit_Returns413()
    {
        var huge = "{\"zen\":\"" + new string('a', 70_000) + "\"}";

        var response = await host.SendWebhookAsync("ping", huge);

        await ShouldBeRejectedAsync(response, HttpStatusCode.RequestEntityTooLarge, "at most 65536");
    }

    [Fact]
    public async Task ChunkedBodyOverTheLimit_Returns413()
    {
        var huge = Encoding.UTF8.GetBytes("{\"zen\":\"" + new string('a', 70_000) + "\"}");
        var request = Webhook.Request("ping", "{}", Guid.NewGuid().ToString(), HeavenTestHost.Secret);
        request.Content = new StreamContent(new MemoryStream(huge));
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.TransferEncodingChunked = true;

        var response = await host.Client.SendAsync(request);

        await ShouldBeRejectedAsync(response, HttpStatusCode.RequestEntityTooLarge, "larger than the 65536 bytes");
    }

    [Fact]
    public async Task MissingEventHeader_Returns400()
    {
        var response = await host.Client.SendAsync(Webhook.Request(null, Deployment, Guid.NewGuid().ToString(), HeavenTestHost.Secret));

        await ShouldBeRejectedAsync(response, HttpStatusCode.BadRequest, "X-GitHub-Event header is missing");
    }

    [Fact]
    public async Task MissingDeliveryHeader_Returns400()
    {
        var response = await host.Client.SendAsync(Webhook.Request("deployment", Deployment, null, HeavenTestHost.Secret));

        await ShouldBeRejectedAsync(response, HttpStatusCode.BadRequest, "X-GitHub-Delivery header is missing");
    }

    [Fact]
    public async Task HostileDeliveryHeader_Returns400()
    {
        var response = await host.SendWebhookAsync("deployment", Deployment, deliveryId: "../../etc/passwd");

        await ShouldBeRejectedAsync(response, HttpStatusCode.BadRequest, "X-GitHub-Delivery");
    }

    [Fact]
    public async Task MalformedJson_Returns400SayingSo()
    {
        var response = await host.SendWebhookAsync("deployment", "{\"deployment\": {");

        await ShouldBeRejectedAsync(response, HttpStatusCode.BadRequest, "not valid JSON");
    }

    [Fact]
    public async Task JsonArray_Returns400()
    {
        var response = await host.SendWebhookAsync("deployment", "[1,2,3]");

        await ShouldBeRejectedAsync(response, HttpStatusCode.BadRequest, "must be a JSON object");
    }

    [Theory]
    [InlineData("deployment", "sha", "deployment.sha")]
    [InlineData("deployment", "ref", "deployment.ref")]
    [InlineData("deployment", "environment", "deployment.environment")]
    [InlineData("deployment", "id", "deployment.id")]
    public async Task DeploymentWithoutARequiredField_Returns400NamingIt(string eventName, string field, string path)
    {
        var payload = JsonNodeOf(Deployment);
        payload["deployment"]!.AsObject().Remove(field);

        var response = await host.SendWebhookAsync(eventName, payload.ToJsonString());

        await ShouldBeRejectedAsync(response, HttpStatusCode.BadRequest, path);
    }

    [Fact]
    public async Task DeploymentWithoutCloneUrl_Returns400NamingIt()
    {
        var payload = JsonNodeOf(Deployment);
        payload["repository"]!.AsObject().Remove("clone_url");

        var response = await host.SendWebhookAsync("deployment", payload.ToJsonString());

        await ShouldBeRejectedAsync(response, HttpStatusCode.BadRequest, "repository.clone_url");
    }

    [Fact]
    public async Task DeploymentIdThatIsNotANumber_Returns400()
    {
        var payload = JsonNodeOf(Deployment);
        payload["deployment"]!["id"] = "12";

        var response = await host.SendWebhookAsync("deployment", payload.ToJsonString());

        await ShouldBeRejectedAsync(response, HttpStatusCode.BadRequest, "deployment.id (a positive number)");
    }

    [Fact]
    public async Task DeploymentStatusWithoutState_Returns400()
    {
        var payload = JsonNodeOf(Fixtures.Read("deployment-success.json"));
        payload["deployment_status"]!.AsObject().Remove("state");

        var response = await host.SendWebhookAsync("deployment_status", payload.ToJsonString());

        await ShouldBeRejectedAsync(response, HttpStatusCode.BadRequest, "deployment_status.state");
    }

    [Fact]
    public async Task StatusWithoutRepository_Returns400()
    {
        var payload = JsonNodeOf(Fixtures.Read("status_success.json"));
        payload.AsObject().Remove("repository");

        var response = await host.SendWebhookAsync("status", payload.ToJsonString());

        await ShouldBeRejectedAsync(response, HttpStatusCode.BadRequest, "repository.full_name");
    }

    [Fact]
    public async Task GetOnTheEndpoint_IsNotAWebhook()
    {
        var response = await host.Client.GetAsync("/events");

        response.StatusCode.ShouldBe(HttpStatusCode.MethodNotAllowed);
        await host.ShouldHaveStoredNothingAsync();
    }

    private async Task ShouldBeRejectedAsync(HttpResponseMessage response, HttpStatusCode status, string messagePart)
    {
        response.StatusCode.ShouldBe(status);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        body.RootElement.GetProperty("result").GetString().ShouldBe("rejected");
        body.RootElement.GetProperty("message").GetString()!.ShouldContain(messagePart);
        await host.ShouldHaveStoredNothingAsync();
    }

    private static System.Text.Json.Nodes.JsonNode JsonNodeOf(string json) => System.Text.Json.Nodes.JsonNode.Parse(json)!;
}
