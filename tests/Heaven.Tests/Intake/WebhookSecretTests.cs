using System.Net;
using Heaven.Configuration;
using Heaven.Intake;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Intake;

/// <summary>There is always a secret, and rotating it never drops a delivery.</summary>
public sealed class WebhookSecretTests
{
    private static readonly Dictionary<string, string?> NoSecret = new() { ["Webhooks:Secret"] = null };

    [Fact]
    public async Task WithoutAConfiguredSecret_OneIsGeneratedReadableByTheOwnerOnly()
    {
        await using var host = await HeavenTestHost.StartAsync(NoSecret);

        var file = Path.Combine(host.DataDirectory, WebhookSecrets.GeneratedSecretFileName);
        File.Exists(file).ShouldBeTrue();
        File.GetUnixFileMode(file).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var generated = File.ReadAllText(file).Trim();
        generated.ShouldMatch("^[0-9a-f]{64}$");
        (await host.SendWebhookAsync("ping", Fixtures.Read("ping.json"), secret: generated)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await host.SendWebhookAsync("ping", Fixtures.Read("ping.json"), secret: null)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await host.SendWebhookAsync("ping", Fixtures.Read("ping.json"), secret: HeavenTestHost.Secret)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task GeneratedSecret_SurvivesARestart()
    {
        using var directory = new TemporaryDirectory();
        string first;
        await using (var host = await HeavenTestHost.StartAsync(NoSecret, directory: directory))
        {
            first = File.ReadAllText(Path.Combine(host.DataDirectory, WebhookSecrets.GeneratedSecretFileName)).Trim();
        }

        await using (var host = await HeavenTestHost.StartAsync(NoSecret, directory: directory))
        {
            File.ReadAllText(Path.Combine(host.DataDirectory, WebhookSecrets.GeneratedSecretFileName)).Trim().ShouldBe(first);
            host.Services.GetRequiredService<WebhookSecrets>().GeneratedNow.ShouldBeFalse();
            (await host.SendWebhookAsync("ping", Fixtures.Read("ping.json"), secret: first)).StatusCode.ShouldBe(HttpStatusCode.OK);
        }
    }

    [Fact]
    public async Task TwoServersNeverGenerateTheSameSecret()
    {
        await using var a = await HeavenTestHost.StartAsync(NoSecret);
        await using var b = await HeavenTestHost.StartAsync(NoSecret);

        File.ReadAllText(Path.Combine(a.DataDirectory, WebhookSecrets.GeneratedSecretFileName))
            .ShouldNotBe(File.ReadAllText(Path.Combine(b.DataDirectory, WebhookSecrets.GeneratedSecretFileName)));
    }

    [Fact]
    public async Task DuringARotation_BothSecretsWork_AndAfterwardsTheOldOneIsRefused()
    {
        const string oldSecret = "old-secret-0123456789abcdef";
        const string newSecret = "new-secret-0123456789abcdef";
        using var directory = new TemporaryDirectory();

        await using (var rotating = await HeavenTestHost.StartAsync(
            new Dictionary<string, string?> { ["Webhooks:Secret"] = newSecret, ["Webhooks:SecondarySecret"] = oldSecret }, directory: directory))
        {
            (await rotating.SendWebhookAsync("ping", Fixtures.Read("ping.json"), secret: oldSecret)).StatusCode.ShouldBe(HttpStatusCode.OK);
            (await rotating.SendWebhookAsync("ping", Fixtures.Read("ping.json"), secret: newSecret)).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        await using var rotated = await HeavenTestHost.StartAsync(new Dictionary<string, string?> { ["Webhooks:Secret"] = newSecret }, directory: directory);
        (await rotated.SendWebhookAsync("ping", Fixtures.Read("ping.json"), secret: oldSecret)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await rotated.SendWebhookAsync("ping", Fixtures.Read("ping.json"), secret: newSecret)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task SecretFromTheOriginalsVariable_IsUsed()
    {
        const string legacySecret = "legacy-secret-0123456789abcdef";
        await using var host = await HeavenTestHost.StartAsync(
            new Dictionary<string, string?> { ["Webhooks:Secret"] = null },
            legacyEnvironment: new Dictionary<string, string?> { ["GITHUB_WEBHOOK_SECRET"] = legacySecret });

        (await host.SendWebhookAsync("ping", Fixtures.Read("ping.json"), secret: legacySecret)).StatusCode.ShouldBe(HttpStatusCode.OK);
        File.Exists(Path.Combine(host.DataDirectory, WebhookSecrets.GeneratedSecretFileName)).ShouldBeFalse();
    }

    [Fact]
    public async Task ATooShortSecret_StopsTheStartNamingTheSetting()
    {
        var error = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(
            new Dictionary<string, string?> { ["Webhooks:Secret"] = "short" }));

        error.Message.ShouldContain("Webhooks:Secret (or GITHUB_WEBHOOK_SECRET) is too short");
        error.Message.ShouldNotContain("short'");
    }
}
