using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Deployments;
using Heaven.Model;
using Heaven.Output;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Tests.Infrastructure;

/// <summary>
/// Heaven wired to a fake GitHub, deploying from local git repositories: the whole path a real
/// deployment takes, webhook in, statuses out.
/// </summary>
public sealed class DeployHarness : IAsyncDisposable
{
    public const string Token = "ghp_harnessToken0123456789abcdefABCDEF";

    private readonly bool ownsGitHub;

    private DeployHarness(FakeGitHub gitHub, bool ownsGitHub, HeavenTestHost host)
    {
        GitHub = gitHub;
        Host = host;
        this.ownsGitHub = ownsGitHub;
    }

    public FakeGitHub GitHub { get; }

    public HeavenTestHost Host { get; }

    public static async Task<DeployHarness> StartAsync(IDictionary<string, string?>? settings = null, TemporaryDirectory? directory = null, FakeGitHub? gitHub = null)
    {
        var ownsGitHub = gitHub is null;
        gitHub ??= await FakeGitHub.StartAsync();
        var all = new Dictionary<string, string?>
        {
            ["GitHub:ApiUrl"] = gitHub.ApiUrl,
            ["GitHub:WebUrl"] = gitHub.ApiUrl,
            ["GitHub:Token"] = Token,
            ["GitHub:StatusDelivery:RetryBase"] = "00:00:00.100",
            ["Deployments:Timeout"] = "60",
            ["Deployments:MaxParallel"] = "16",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return new DeployHarness(gitHub, ownsGitHub, await HeavenTestHost.StartAsync(all, directory: directory));
    }

    /// <summary>Sends a signed deployment webhook; returns GitHub's and Heaven's ids.</summary>
    public async Task<(long GitHubId, long HeavenId)> DeployAsync(
        TestRepository repository,
        string sha,
        string environment = "production",
        string reference = "master",
        JsonObject? config = null,
        string creator = "octocat",
        string task = "deploy",
        string? name = null,
        string? cloneUrl = null)
    {
        var (body, gitHubId) = DeploymentWebhook.For(repository, sha, environment, reference, task, config, name, creator, cloneUrl: cloneUrl);
        var response = await Host.SendWebhookAsync("deployment", body);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return (gitHubId, answer.GetProperty("deployment").GetInt64());
    }

    /// <summary>Every status GitHub received for the deployment, in order, as "state: description".</summary>
    public IReadOnlyList<string> Story(TestRepository repository, long gitHubId) =>
        GitHub.StatusesFor(repository.FullName, gitHubId).Select(s => $"{s.State}: {s.Description}").ToList();

    public Task<PostedStatus> WaitForFinalStatusAsync(TestRepository repository, long gitHubId, TimeSpan? timeout = null) =>
        GitHub.WaitForStatusAsync(
            s => s.Repository == repository.FullName && s.DeploymentId == gitHubId && s.State is "success" or "failure" or "error",
            timeout ?? TimeSpan.FromSeconds(60));

    public Task<DeploymentRecord> DeploymentAsync(long heavenId) =>
        Host.QueryAsync(db => db.Deployments.AsNoTracking().SingleAsync(d => d.Id == heavenId));

    /// <summary>The stored log as a person reads it: one line per output line, without stream tags.</summary>
    public async Task<string> LogAsync(long heavenId)
    {
        var chunks = await Host.QueryAsync(db => db.LogChunks.Where(c => c.DeploymentId == heavenId).OrderBy(c => c.Sequence).Select(c => c.Content).ToListAsync());
        var text = new StringBuilder();
        foreach (var line in chunks.SelectMany(c => c.Split('\n', StringSplitOptions.RemoveEmptyEntries)))
        {
            text.Append(line.AsSpan(1)).Append('\n');
        }

        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        if (ownsGitHub)
        {
            // A fake GitHub handed in outlives this Heaven: the test restarts Heaven against it.
            await GitHub.DisposeAsync();
        }
    }
}
