using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Model;
using Heaven.Output;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Infrastructure;

/// <summary>
/// Heaven wired to a fake GitHub, deploying from local git repositories: the whole path a real
/// deployment takes, webhook in, statuses out.
/// </summary>
public sealed class DeployHarness : IAsyncDisposable
{
    public const string Token = "ghp_harnessToken0123456789abcdefABCDEF";

    /// <summary>
    /// How long a deployment may take to reach its final status. Measured on a shared 2-core machine
    /// (load average 7-45 from other builds): the slowest deploys, Capistrano, Bundler-Capistrano and
    /// Ansible over ssh, took 40-70 s while the four ssh test classes ran at once (six of them then
    /// missed the old 60 s budget); 30-50 s run one at a time before the test sshd stopped sessions
    /// from reading ~/.bashrc; 3-20 s now (the collection alone, load average 18-22). Twice the worst of
    /// those leaves room, and is above the deploys' own 60 s timeout; only a failing test waits it out.
    /// </summary>
    public static readonly TimeSpan FinalStatusTimeout = TimeSpan.FromSeconds(120);

    private readonly bool ownsGitHub;

    private DeployHarness(FakeGitHub gitHub, bool ownsGitHub, HeavenTestHost host)
    {
        GitHub = gitHub;
        Host = host;
        this.ownsGitHub = ownsGitHub;
    }

    public FakeGitHub GitHub { get; }

    public HeavenTestHost Host { get; }

    /// <param name="overrideServices">Replaces Heaven's components (a fake clock for one of them, say); see <see cref="HeavenTestHost.StartAsync"/>.</param>
    public static async Task<DeployHarness> StartAsync(
        IDictionary<string, string?>? settings = null,
        TemporaryDirectory? directory = null,
        FakeGitHub? gitHub = null,
        Action<IServiceCollection>? overrideServices = null)
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

        return new DeployHarness(gitHub, ownsGitHub, await HeavenTestHost.StartAsync(all, directory: directory, overrideServices: overrideServices));
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

    /// <summary>
    /// Waits for the deployment's final status (success, failure or error). The default budget is
    /// <see cref="FinalStatusTimeout"/>: a deploy through a real tool takes seconds, far more on a busy machine.
    /// </summary>
    public Task<PostedStatus> WaitForFinalStatusAsync(TestRepository repository, long gitHubId, TimeSpan? timeout = null) =>
        GitHub.WaitForStatusAsync(
            s => s.Repository == repository.FullName && s.DeploymentId == gitHubId && s.State is "success" or "failure" or "error",
            timeout ?? FinalStatusTimeout,
            $"the final status of deployment {gitHubId} of {repository.FullName}");

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
