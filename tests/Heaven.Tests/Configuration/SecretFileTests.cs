using System.Net;
using System.Text.RegularExpressions;
using Heaven.Configuration;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Configuration;

/// <summary>
/// Every secret setting <c>X</c> can be given as a file, <c>XFile</c> (or the original's variable with
/// <c>_FILE</c>): the secret then appears in no argument, no environment and no shell history.
/// </summary>
public sealed class SecretFileTests : IDisposable
{
    private readonly TemporaryDirectory files = new();

    [Fact]
    public async Task GitHubTokenFile_IsTheTokenGitHubSees_WithoutTheFinalNewline_AndIsMasked()
    {
        const string token = "ghp_fromAFile0123456789abcdefABCDEF012345";
        var path = Write("github-token", token + "\n");
        using var repository = new TestRepository();
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?>
        {
            ["GitHub:Token"] = null,
            ["GitHub:TokenFile"] = path,
        });
        var sha = repository.CommitDeployScript($"echo token {token}");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");

        var calls = harness.GitHub.Requests;
        calls.ShouldNotBeEmpty();
        calls.ShouldAllBe(r => Regex.IsMatch(r.Header("Authorization") ?? "", $"^(?i:token|bearer) {token}$"));
        var log = await harness.LogAsync(heavenId);
        log.ShouldContain("token ***");
        log.ShouldNotContain(token);
    }

    [Fact]
    public async Task WebhookSecretFile_SignsTheWebhooksHeavenAccepts()
    {
        const string secret = "webhook-secret-from-a-file-0123456789";
        await using var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Webhooks:Secret"] = null,
            ["Webhooks:SecretFile"] = Write("webhook-secret", secret + "\r\n"),
        });

        (await host.SendWebhookAsync("ping", "{\"zen\":\"hi\",\"hook_id\":1}", secret: secret)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await host.SendWebhookAsync("ping", "{\"zen\":\"hi\",\"hook_id\":1}", secret: HeavenTestHost.Secret)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task TheOriginalsVariableWithFile_ReadsTheSecretFromThatFile()
    {
        const string secret = "legacy-variable-file-secret-0123456789";
        await using var host = await HeavenTestHost.StartAsync(
            new Dictionary<string, string?> { ["Webhooks:Secret"] = null },
            legacyEnvironment: new Dictionary<string, string?> { ["GITHUB_WEBHOOK_SECRET_FILE"] = Write("secret", secret) });

        (await host.SendWebhookAsync("ping", "{\"zen\":\"hi\",\"hook_id\":1}", secret: secret)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task ASecretSetBothWays_StopsTheStart()
    {
        var error = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Webhooks:SecretFile"] = Write("webhook-secret", "another-secret-0123456789abcdef"),
        }));

        error.Message.ShouldBe(
            "Webhooks:Secret (or GITHUB_WEBHOOK_SECRET) and Webhooks:SecretFile (or GITHUB_WEBHOOK_SECRET_FILE) are both set: set one of them (the file is the way that keeps the secret out of arguments and the environment).");
        error.Message.ShouldNotContain(HeavenTestHost.Secret);
    }

    [Fact]
    public async Task AMissingFile_StopsTheStart_NamingTheSettingAndThePath()
    {
        var missing = Path.Combine(files.Path, "no-such-token");

        var error = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["GitHub:TokenFile"] = missing,
        }));

        error.Message.ShouldBe($"GitHub:TokenFile (or GITHUB_TOKEN_FILE) is '{missing}', which does not exist.");
    }

    [Fact]
    public async Task AnUnreadableOrEmptyFile_StopsTheStart_EachProblemOnItsLine()
    {
        var error = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Providers:Heroku:ApiKeyFile"] = files.Path,
            ["Notifications:Slack:WebhookUrlFile"] = Write("empty", "\n"),
        }));

        error.Message.Split('\n').ShouldBe(
        [
            $"Providers:Heroku:ApiKeyFile (or HEROKU_API_KEY_FILE) is '{files.Path}', which is a directory, not a file.",
            $"Notifications:Slack:WebhookUrlFile (or SLACK_WEBHOOK_URL_FILE) is '{Path.Combine(files.Path, "empty")}', which is empty.",
        ]);
    }

    public void Dispose() => files.Dispose();

    private string Write(string name, string content)
    {
        var path = Path.Combine(files.Path, name);
        File.WriteAllText(path, content);
        return path;
    }
}
