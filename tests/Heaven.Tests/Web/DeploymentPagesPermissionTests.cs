using System.Net;
using static Heaven.Tests.Access.AccessTestKit;

namespace Heaven.Tests.Web;

/// <summary>
/// Who sees and does what on the dashboard, environment and deployment pages: anonymous visitors are
/// sent to sign in, readers see but cannot act (no buttons; a forged POST gets 403), deployers act,
/// and people without access to a repository do not see it at all.
/// </summary>
public sealed class DeploymentPagesPermissionTests : IAsyncLifetime
{
    private DeploymentPagesSite site = null!;

    public async Task InitializeAsync()
    {
        site = await DeploymentPagesSite.StartAsync();
        await site.DeployFirstAsync();
    }

    public async Task DisposeAsync() => await site.DisposeAsync();

    private string[] Pages => ["/", site.EnvironmentPath, $"/deployments/{site.FirstDeploymentId}"];

    private (string Path, (string, string)[] Fields)[] Actions =>
    [
        ($"/deployments/{site.FirstDeploymentId}/cancel", []),
        ($"/deployments/{site.FirstDeploymentId}/redeploy", []),
        (site.EnvironmentPath + "/rollback", []),
        (site.EnvironmentPath + "/deploy", [("sha", site.NextSha)]),
        (site.EnvironmentPath + "/lock", [("reason", "release freeze")]),
        (site.EnvironmentPath + "/unlock", []),
    ];

    [Fact]
    public async Task AnAnonymousVisitor_IsSentToSignIn_FromEveryPageAndAction()
    {
        using var browser = Browser(site.Host);
        foreach (var path in Pages)
        {
            var answer = await browser.GetAsync(path);
            answer.StatusCode.ShouldBe(HttpStatusCode.Redirect, path);
            new Uri(site.Host.BaseAddress, answer.Headers.Location!).PathAndQuery.ShouldBe("/signin?returnUrl=" + Uri.EscapeDataString(path), path);
        }

        foreach (var (path, fields) in Actions)
        {
            // A form posted after the session expired: back to the page it was on after sign-in,
            // never to the action's address (a GET of it is no page) and without doing the action.
            using var post = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(fields.Select(f => new KeyValuePair<string, string>(f.Item1, f.Item2))) };
            post.Headers.Referrer = new Uri(site.Host.BaseAddress, site.EnvironmentPath + "?page=2");
            var answer = await browser.SendAsync(post);
            answer.StatusCode.ShouldBe(HttpStatusCode.Redirect, path);
            new Uri(site.Host.BaseAddress, answer.Headers.Location!).PathAndQuery.ShouldBe("/signin?returnUrl=" + Uri.EscapeDataString(site.EnvironmentPath + "?page=2"), path);

            // Without a Referer of this server's: the dashboard.
            using var foreign = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(fields.Select(f => new KeyValuePair<string, string>(f.Item1, f.Item2))) };
            foreign.Headers.Referrer = new Uri("https://elsewhere.example" + site.EnvironmentPath);
            var elsewhere = await browser.SendAsync(foreign);
            new Uri(site.Host.BaseAddress, elsewhere.Headers.Location!).PathAndQuery.ShouldBe("/signin?returnUrl=%2F", path);
        }

        site.GitHub.CreatedDeployments.ShouldBeEmpty();
    }

    [Fact]
    public async Task AnEnvironmentNamedWithASlash_HasItsPage_AndItsFormsWork()
    {
        const string environment = "production/eu";
        const string path = "/repos/octo/app/environments/production%2Feu";
        var (gitHubId, _) = await site.Harness.DeployAsync(site.Repository, site.FirstSha, environment, "main", creator: DeploymentPagesSite.Deployer);
        (await site.Harness.WaitForFinalStatusAsync(site.Repository, gitHubId)).State.ShouldBe("success");
        using var browser = await site.SignedInAsync(DeploymentPagesSite.Deployer);

        (await browser.GetStringAsync("/")).ShouldContain($"href=\"{path}\"");
        var page = await browser.GetAsync(path);
        var html = await page.Content.ReadAsStringAsync();
        page.StatusCode.ShouldBe(HttpStatusCode.OK, html);
        html.ShouldContain("octo/app · production/eu");
        html.ShouldContain(site.FirstSha[..7]);
        html.ShouldContain($"action=\"{path}/lock\"");

        var token = await DeploymentPagesSite.FormTokenAsync(browser, path);
        var locked = await DeploymentPagesSite.PostFormAsync(browser, path + "/lock", token, ("reason", "eu freeze"));
        locked.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        locked.Headers.Location!.OriginalString.ShouldStartWith(path + "?notice=");
        (await browser.GetStringAsync(path)).ShouldContain($"Locked by {DeploymentPagesSite.Deployer}: eu freeze");
        (await browser.GetStringAsync(site.EnvironmentPath)).ShouldNotContain("eu freeze", customMessage: "production itself is not locked");
    }

    [Fact]
    public async Task AReader_SeesEveryPage_WithoutButtons_AndEveryActionIsRefusedWith403()
    {
        using var browser = await site.SignedInAsync(DeploymentPagesSite.Reader);
        foreach (var path in Pages)
        {
            var answer = await browser.GetAsync(path);
            answer.StatusCode.ShouldBe(HttpStatusCode.OK, path);
            var html = await answer.Content.ReadAsStringAsync();
            html.ShouldContain(site.FirstSha[..7], Case.Sensitive, path);
            html.ShouldContain(DeploymentPagesSite.Reader);
            foreach (var button in new[] { ">Deploy</button>", ">Rollback</button>", ">Lock</button>", ">Unlock</button>", ">Cancel</button>", ">Redeploy</button>" })
            {
                html.ShouldNotContain(button, Case.Sensitive, $"{path} shows a reader no {button}");
            }
        }

        // The reader sees what is not deployed yet, only without the button.
        (await browser.GetStringAsync(site.EnvironmentPath)).ShouldContain("Make it faster");

        var token = await DeploymentPagesSite.FormTokenAsync(browser);
        foreach (var (path, fields) in Actions)
        {
            var answer = await DeploymentPagesSite.PostFormAsync(browser, path, token, fields);
            answer.StatusCode.ShouldBe(HttpStatusCode.Forbidden, path);
            (await answer.Content.ReadAsStringAsync()).ShouldContain("needs write access");
        }

        site.GitHub.CreatedDeployments.ShouldBeEmpty();
        (await browser.GetStringAsync("/")).ShouldNotContain("Locked by");
    }

    [Fact]
    public async Task AUserWithoutAccess_DoesNotSeeTheRepository_AndCannotAct()
    {
        using var browser = await site.SignedInAsync(DeploymentPagesSite.Stranger);

        var dashboard = await browser.GetStringAsync("/");
        dashboard.ShouldNotContain("octo/app");
        dashboard.ShouldContain("No deployments you may see yet");
        (await browser.GetAsync(site.EnvironmentPath)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await browser.GetAsync($"/deployments/{site.FirstDeploymentId}")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        var token = await DeploymentPagesSite.FormTokenAsync(browser);
        foreach (var (path, fields) in Actions)
        {
            (await DeploymentPagesSite.PostFormAsync(browser, path, token, fields)).StatusCode.ShouldBe(HttpStatusCode.NotFound, path);
        }

        site.GitHub.CreatedDeployments.ShouldBeEmpty();
    }

    [Fact]
    public async Task ADeployer_SeesTheButtons_AndLocksUnlocksDeploysAndRedeploys()
    {
        using var browser = await site.SignedInAsync(DeploymentPagesSite.Deployer);
        var environment = await browser.GetStringAsync(site.EnvironmentPath);
        foreach (var button in new[] { ">Deploy</button>", ">Rollback</button>", ">Lock</button>" })
        {
            environment.ShouldContain(button);
        }

        environment.ShouldContain("ci/build: success");
        environment.ShouldContain("tests: success");
        (await browser.GetStringAsync($"/deployments/{site.FirstDeploymentId}")).ShouldContain(">Redeploy</button>");
        var token = await DeploymentPagesSite.FormTokenAsync(browser, site.EnvironmentPath);

        var locked = await DeploymentPagesSite.PostFormAsync(browser, site.EnvironmentPath + "/lock", token, ("reason", "release freeze"));
        locked.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        locked.Headers.Location!.OriginalString.ShouldStartWith(site.EnvironmentPath + "?notice=");
        var dashboard = await browser.GetStringAsync("/");
        dashboard.ShouldContain($"Locked by {DeploymentPagesSite.Deployer}: release freeze");
        (await browser.GetStringAsync(site.EnvironmentPath)).ShouldContain(">Unlock</button>");

        var unlocked = await DeploymentPagesSite.PostFormAsync(browser, site.EnvironmentPath + "/unlock", token);
        unlocked.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        (await browser.GetStringAsync(unlocked.Headers.Location!.OriginalString)).ShouldContain($"unlocked on {DeploymentPagesSite.Environment} (it was locked by {DeploymentPagesSite.Deployer})");
        (await browser.GetStringAsync("/")).ShouldNotContain("Locked by");

        var deployed = await DeploymentPagesSite.PostFormAsync(browser, site.EnvironmentPath + "/deploy", token, ("sha", site.NextSha));
        deployed.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        deployed.Headers.Location!.OriginalString.ShouldContain("?notice=");
        var redeployed = await DeploymentPagesSite.PostFormAsync(browser, $"/deployments/{site.FirstDeploymentId}/redeploy", token);
        redeployed.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        redeployed.Headers.Location!.OriginalString.ShouldStartWith($"/deployments/{site.FirstDeploymentId}?notice=");

        var created = site.GitHub.CreatedDeployments;
        created.Select(d => (string?)d["sha"]).ShouldBe([site.NextSha, site.FirstSha]);
        created.ShouldAllBe(d => ((string?)d["description"] ?? "").Contains(DeploymentPagesSite.Deployer));

        // Nothing to roll back to (one commit deployed so far): the page says so.
        var rollback = await DeploymentPagesSite.PostFormAsync(browser, site.EnvironmentPath + "/rollback", token);
        rollback.Headers.Location!.OriginalString.ShouldContain("?problem=");
        (await browser.GetStringAsync(rollback.Headers.Location!.OriginalString)).ShouldContain("Nothing to roll back to");
    }

    [Fact]
    public async Task AFormWithoutTheAntiforgeryToken_IsRefused_EvenForADeployer()
    {
        using var browser = await site.SignedInAsync(DeploymentPagesSite.Deployer);

        var answer = await DeploymentPagesSite.PostFormAsync(browser, site.EnvironmentPath + "/lock", null, ("reason", "forged"));

        answer.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await answer.Content.ReadAsStringAsync()).ShouldContain("antiforgery token missing or wrong");
        (await browser.GetStringAsync("/")).ShouldNotContain("Locked by");
    }
}
