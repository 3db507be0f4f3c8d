using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Heaven.AutoDeploy;
using Heaven.Intake;
using Heaven.Locks;
using Heaven.Storage;
using Heaven.Tests.Access;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Web;

/// <summary>
/// A Heaven behind a fake GitHub with four kinds of visitor: <see cref="Admin"/> (in
/// <c>Web:Administrators</c>), <see cref="Deployer"/> (write on <see cref="App"/>), <see cref="Reader"/>
/// (read on <see cref="App"/>); nobody but the admin may see <see cref="Secret"/>. Seeded with a
/// delivery, outbox items, auto-deploy decisions and locks, some carrying markup that must stay text.
/// </summary>
internal sealed partial class AdminPagesSite : IAsyncDisposable
{
    public const string Admin = "ann-admin";
    public const string Deployer = "dora-deployer";
    public const string Reader = "rob-reader";
    public const string App = "octo/app";
    public const string Secret = "octo/secret";
    public const string HostileDeliveryId = "11111111-2222-3333-4444-555555555555";
    public const string HostileScript = "<script>window.__xss = 1</script>";
    public const string HostileImage = "<img src=x onerror=\"window.__xss = 2\">";
    public const string HostileReason = "db migration " + HostileImage + HostileScript;
    public const string SecretReason = "secret maintenance";
    public const string FailedError = "GitHub answered 422: <b>bad</b>";

    private AdminPagesSite(FakeGitHub gitHub, HeavenTestHost host)
    {
        GitHub = gitHub;
        Host = host;
    }

    public FakeGitHub GitHub { get; }

    public HeavenTestHost Host { get; }

    public static async Task<AdminPagesSite> StartAsync()
    {
        var gitHub = await FakeGitHub.StartAsync();
        gitHub.SetPermission(App, Deployer, "write");
        gitHub.SetPermission(App, Reader, "read");
        var host = await HeavenTestHost.StartAsync(AccessTestKit.SignInSettings(
            gitHub,
            ("Web:AllowedUsers:0", Admin),
            ("Web:AllowedUsers:1", Deployer),
            ("Web:AllowedUsers:2", Reader),
            ("Web:Administrators:0", Admin),
            ("Web:PermissionCacheSeconds", "0")));
        var site = new AdminPagesSite(gitHub, host);
        await site.SeedAsync();
        return site;
    }

    /// <summary>A cookie-keeping client signed in as <paramref name="login"/> through the fake GitHub.</summary>
    public async Task<HttpClient> SignInAsync(string login)
    {
        GitHub.OAuthUser = new FakeGitHubUser(login, Math.Abs(login.GetHashCode(StringComparison.Ordinal)) + 1);
        var browser = AccessTestKit.Browser(Host);
        var back = await AccessTestKit.SignInAsync(browser);
        back.StatusCode.ShouldBe(HttpStatusCode.Redirect, $"{login} signs in");
        return browser;
    }

    /// <summary>The anti-forgery field of the first form on <paramref name="page"/>.</summary>
    public static KeyValuePair<string, string> FormToken(string page)
    {
        var match = TokenField().Match(page);
        match.Success.ShouldBeTrue("the page has a form with an anti-forgery token");
        return new(match.Groups[1].Value, WebUtility.HtmlDecode(match.Groups[2].Value));
    }

    /// <summary>Posts a form the way the page's own form does: with the anti-forgery token of <paramref name="tokenFrom"/>.</summary>
    public static async Task<(HttpStatusCode Status, string Page)> PostFormAsync(HttpClient browser, string tokenFrom, string action, params (string Name, string Value)[] fields)
    {
        var page = await (await browser.GetAsync(tokenFrom)).Content.ReadAsStringAsync();
        var content = new FormUrlEncodedContent([FormToken(page), .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))]);
        var answer = await browser.PostAsync(action, content);
        return (answer.StatusCode, await answer.Content.ReadAsStringAsync());
    }

    public static async Task<(HttpStatusCode Status, string Page)> GetAsync(HttpClient browser, string path)
    {
        var answer = await browser.GetAsync(path);
        return (answer.StatusCode, await answer.Content.ReadAsStringAsync());
    }

    public async Task<bool> IsLockedAsync(string repository) =>
        (await Host.Services.GetRequiredService<Heaven.Operations.ActivityQueries>().LocksAsync(CancellationToken.None)).Any(l => l.Repository == repository);

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await GitHub.DisposeAsync();
    }

    private async Task SeedAsync()
    {
        var now = Host.Services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        var zen = HostileScript.Replace("\"", "\\\"", StringComparison.Ordinal);
        var description = HostileImage.Replace("\"", "\\\"", StringComparison.Ordinal);
        var body = "{\"zen\":\"" + zen + "\",\"hook_id\":1,\"repository\":{\"full_name\":\"octo/app\",\"description\":\"" + description + "\"}}";
        await using (var db = await Host.Services.GetRequiredService<IHeavenDatabase>().OpenAsync(CancellationToken.None))
        {
            db.Deliveries.Add(new Delivery
            {
                DeliveryId = HostileDeliveryId,
                Event = "ping",
                Repository = App,
                Result = DeliveryResult.Accepted,
                Message = "pong " + HostileScript,
                ReceivedAt = now.AddMinutes(-5),
                Body = Encoding.UTF8.GetBytes(body),
            });
            db.WorkItems.Add(new WorkItem { Kind = WorkItemKinds.PostDeploymentStatus, Repository = App, DeploymentId = 7, PayloadJson = "{}", State = WorkItemState.Failed, Attempts = 5, CreatedAt = now.AddMinutes(-10), NotBefore = now.AddMinutes(-10), LastError = FailedError });
            db.WorkItems.Add(new WorkItem { Kind = WorkItemKinds.PostDeploymentStatus, Repository = App, DeploymentId = 8, PayloadJson = "{}", State = WorkItemState.Done, Attempts = 1, CreatedAt = now.AddMinutes(-9), NotBefore = now.AddMinutes(-9), CompletedAt = now.AddMinutes(-9) });
            foreach (var (repository, reason) in new[] { (App, "CI is green " + HostileScript), (Secret, "secret decision") })
            {
                var sha = repository == App ? new string('a', 40) : new string('b', 40);
                db.AutoDeployDecisions.Add(new AutoDeployDecision
                {
                    Repository = repository,
                    Sha = sha,
                    Environment = "production",
                    Outcome = AutoDeployOutcome.Skipped,
                    Reason = reason,
                    Trigger = "status",
                    DecidedAt = now.AddMinutes(-3),
                    DeployKey = AutoDeployDecision.KeyOf(repository, "production", sha),
                });
            }

            await db.SaveChangesAsync(CancellationToken.None);
        }

        var locks = Host.Services.GetRequiredService<EnvironmentLocks>();
        (await locks.LockAsync(App, "production", Deployer, HostileReason, null, CancellationToken.None)).Succeeded.ShouldBeTrue();
        (await locks.LockAsync(Secret, "production", "someone", SecretReason, null, CancellationToken.None)).Succeeded.ShouldBeTrue();
    }

    [GeneratedRegex("<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]+)\">")]
    private static partial Regex TokenField();
}
