using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Configuration;
using Heaven.Masking;
using Heaven.Model;
using Heaven.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Intake;

/// <summary>
/// A repository with a secret of its own (Repositories:&lt;owner/name&gt;:WebhookSecret) is served
/// with that secret only: whoever holds the server-wide secret (or another repository's) cannot sign
/// deliveries for it. Other repositories keep the server-wide secret.
/// </summary>
public sealed class RepositoryWebhookSecretTests : IAsyncLifetime
{
    private const string RepositorySecret = "octo-app-own-secret-0123456789";

    private HeavenTestHost host = null!;

    public async Task InitializeAsync() => host = await HeavenTestHost.StartAsync(new Dictionary<string, string?>
    {
        ["Repositories:octo/app:WebhookSecret"] = RepositorySecret,
    });

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task ADeliverySignedWithTheRepositorysOwnSecret_IsAccepted()
    {
        var response = await host.SendWebhookAsync("deployment", DeploymentOf("octo/app"), secret: RepositorySecret);

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        (await host.QueryAsync(db => db.Deployments.SingleAsync())).Repository.ShouldBe("octo/app");
    }

    [Theory]
    [InlineData("octo/app")]
    [InlineData("Octo/APP")]
    public async Task ADeliverySignedWithTheServerWideSecret_Is401_AndNothingIsStored(string named)
    {
        var response = await host.SendWebhookAsync("deployment", DeploymentOf(named), secret: HeavenTestHost.Secret);

        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await MessageAsync(response)).ShouldContain("differs from the secret Heaven keeps for octo/app (Repositories:octo/app:WebhookSecret)");
        await host.ShouldHaveStoredNothingAsync();
    }

    [Theory]
    [InlineData("deployment_status", "deployment-success.json")]
    [InlineData("status", "status_success.json")]
    [InlineData("push", "status_success.json")]
    public async Task EveryEventOfTheRepository_NeedsItsOwnSecret(string eventName, string fixture)
    {
        var body = JsonNode.Parse(Fixtures.Read(fixture))!;
        body["repository"]!["full_name"] = "octo/app";

        var forged = await host.SendWebhookAsync(eventName, body.ToJsonString(), secret: HeavenTestHost.Secret);

        forged.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        await host.ShouldHaveStoredNothingAsync();
        (await host.SendWebhookAsync(eventName, body.ToJsonString(), secret: RepositorySecret)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task OtherRepositories_KeepTheServerWideSecret_AndTheRepositorysSecretDoesNotSignForThem()
    {
        var byTheRepositorysSecret = await host.SendWebhookAsync("deployment", DeploymentOf("octo/other"), secret: RepositorySecret);
        byTheRepositorysSecret.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        await host.ShouldHaveStoredNothingAsync();

        var byTheServerWideSecret = await host.SendWebhookAsync("deployment", DeploymentOf("octo/other"), secret: HeavenTestHost.Secret);
        byTheServerWideSecret.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await host.QueryAsync(db => db.Deployments.SingleAsync())).Repository.ShouldBe("octo/other");
    }

    [Fact]
    public async Task APingWithoutARepository_UsesTheServerWideSecret()
    {
        (await host.SendWebhookAsync("ping", Fixtures.Read("ping.json"), secret: RepositorySecret)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await host.SendWebhookAsync("ping", Fixtures.Read("ping.json"), secret: HeavenTestHost.Secret)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("octo/other", "octo/app")]
    [InlineData("octo/app", "octo/other")]
    public async Task ABodyThatNamesTwoRepositories_IsRefused(string first, string second)
    {
        // Two "repository" members: the secret could be chosen by one and the event read from the other.
        var body = JsonNode.Parse(DeploymentOf("placeholder"))!.ToJsonString();
        var twice = body.Replace(
            "\"repository\":{",
            $"\"repository\":{{\"full_name\":\"{first}\",\"clone_url\":\"https://github.com/{first}.git\"}},\"repository\":{{",
            StringComparison.Ordinal).Replace("\"placeholder\"", $"\"{second}\"", StringComparison.Ordinal);

        var response = await host.SendWebhookAsync("deployment", twice, secret: HeavenTestHost.Secret);

        // Chosen by octo/app: its own secret is needed. Chosen by octo/other: signed, but refused as ambiguous.
        response.StatusCode.ShouldBe(second == "octo/app" ? HttpStatusCode.Unauthorized : HttpStatusCode.BadRequest);
        await host.ShouldHaveStoredNothingAsync();
    }

    [Fact]
    public void TheRepositorysSecret_IsMaskedLikeTheServersSecrets()
    {
        host.Services.GetServices<IServerSecretSource>().SelectMany(s => s.Secrets).ShouldContain(RepositorySecret);
        host.Services.GetRequiredService<ISecretMasker>().Mask($"token {RepositorySecret} leaked").ShouldNotContain(RepositorySecret);
    }

    [Theory]
    [InlineData("short-secret", "Repositories:octo/app:WebhookSecret is too short to protect a deploy endpoint")]
    [InlineData(HeavenTestHost.Secret, "Repositories:octo/app:WebhookSecret is the same as the server-wide secret")]
    public async Task AnUnusableRepositorySecret_StopsTheStartNamingIt(string secret, string message)
    {
        var problem = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Repositories:octo/app:WebhookSecret"] = secret,
        }));

        problem.Message.ShouldContain(message);
        problem.Message.ShouldNotContain(secret);
    }

    private static string DeploymentOf(string repository)
    {
        var body = JsonNode.Parse(Fixtures.Read("deployment.json"))!;
        body["repository"]!["full_name"] = repository;
        return body.ToJsonString();
    }

    private static async Task<string> MessageAsync(HttpResponseMessage response)
    {
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return answer.RootElement.GetProperty("message").GetString()!;
    }
}
