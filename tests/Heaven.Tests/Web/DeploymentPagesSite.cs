using System.Net;
using System.Text.RegularExpressions;
using Heaven.Model;
using Heaven.Tests.Infrastructure;
using static Heaven.Tests.Access.AccessTestKit;

namespace Heaven.Tests.Web;

/// <summary>
/// A Heaven that deploys, with sign-in through the fake GitHub: <c>octo/app</c> deployed once to
/// <c>production</c> (commit <see cref="FirstSha"/>), one commit on <c>main</c> not deployed yet, and three
/// GitHub users: <see cref="Deployer"/> (write), <see cref="Reader"/> (read) and <see cref="Stranger"/> (none).
/// </summary>
public sealed partial class DeploymentPagesSite : IAsyncDisposable
{
    public const string Deployer = "dora-deployer";
    public const string Reader = "rita-reader";
    public const string Stranger = "sam-stranger";
    public const string Environment = "production";

    private DeploymentPagesSite(FakeGitHub gitHub, DeployHarness harness, TestRepository repository)
    {
        GitHub = gitHub;
        Harness = harness;
        Repository = repository;
    }

    public FakeGitHub GitHub { get; }

    public DeployHarness Harness { get; }

    public TestRepository Repository { get; }

    public HeavenTestHost Host => Harness.Host;

    public string FirstSha { get; private set; } = "";

    public long FirstDeploymentId { get; private set; }

    public string NextSha { get; private set; } = "";

    public string EnvironmentPath => $"/repos/{Repository.FullName}/environments/{Environment}";

    public static async Task<DeploymentPagesSite> StartAsync(params (string Key, string Value)[] more)
    {
        var gitHub = await FakeGitHub.StartAsync();
        var settings = SignInSettings(gitHub, [("Web:AllowedUsers:0", Deployer), ("Web:AllowedUsers:1", Reader), ("Web:AllowedUsers:2", Stranger), .. more]);
        var harness = await DeployHarness.StartAsync(settings, gitHub: gitHub);
        var repository = new TestRepository("octo/app");
        var site = new DeploymentPagesSite(gitHub, harness, repository);
        gitHub.SetPermission(repository.FullName, Deployer, "write");
        gitHub.SetPermission(repository.FullName, Reader, "read");
        gitHub.SetPermission(repository.FullName, Stranger, "none");
        return site;
    }

    /// <summary>Deploys <see cref="FirstSha"/> to production and waits for its success; one more commit waits on main.</summary>
    public async Task DeployFirstAsync()
    {
        FirstSha = Repository.CommitDeployScript("echo deployed");
        var (gitHubId, heavenId) = await Harness.DeployAsync(Repository, FirstSha, Environment, "main", creator: Deployer);
        (await Harness.WaitForFinalStatusAsync(Repository, gitHubId)).State.ShouldBe("success");
        await Poll.UntilAsync(async () => (await Harness.DeploymentAsync(heavenId)).State == DeploymentState.Succeeded, "the first deployment to be recorded");
        FirstDeploymentId = heavenId;
        NextSha = Repository.CommitDeployScript("echo next");
        GitHub.SetCompare(Repository.FullName, FirstSha, "main", "ahead", 1, 0, new FakeCommit(NextSha, "Make it faster\n\nDetails", Deployer));
        GitHub.SetCombinedStatus(Repository.FullName, NextSha, "success", ("ci/build", "success"));
        GitHub.SetCheckRuns(Repository.FullName, NextSha, new FakeCheckRun("tests"));
    }

    /// <summary>A browser (cookies kept, redirects not followed) signed in as <paramref name="login"/>.</summary>
    public async Task<HttpClient> SignedInAsync(string login)
    {
        var browser = Browser(Host);
        GitHub.OAuthUser = new FakeGitHubUser(login, login.GetHashCode() & 0xffff);
        var back = await SignInAsync(browser);
        back.StatusCode.ShouldBe(HttpStatusCode.Redirect, await back.Content.ReadAsStringAsync());
        return browser;
    }

    /// <summary>The antiforgery field of a page's forms (every page has one: the sign-out form).</summary>
    public static async Task<KeyValuePair<string, string>> FormTokenAsync(HttpClient browser, string path = "/")
    {
        var page = await browser.GetStringAsync(path);
        var match = TokenField().Match(page);
        match.Success.ShouldBeTrue($"{path} has a form with an antiforgery token");
        return new(WebUtility.HtmlDecode(match.Groups[1].Value), WebUtility.HtmlDecode(match.Groups[2].Value));
    }

    public static async Task<HttpResponseMessage> PostFormAsync(HttpClient browser, string path, KeyValuePair<string, string>? token, params (string Key, string Value)[] fields)
    {
        var all = fields.Select(f => new KeyValuePair<string, string>(f.Key, f.Value)).ToList();
        if (token is { } field)
        {
            all.Add(field);
        }

        return await browser.PostAsync(path, new FormUrlEncodedContent(all));
    }

    public async ValueTask DisposeAsync()
    {
        await Harness.DisposeAsync();
        await GitHub.DisposeAsync();
        Repository.Dispose();
    }

    [GeneratedRegex("<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]+)\">")]
    private static partial Regex TokenField();
}
