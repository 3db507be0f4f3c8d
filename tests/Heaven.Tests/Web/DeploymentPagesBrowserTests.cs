using Heaven.Model;
using Heaven.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Heaven.Tests.Web;

/// <summary>
/// The deployment pages in a real Chromium, signed in through the fake GitHub: a deploy followed live
/// and cancelled, a lock taken through the form, a rollback, and hostile names and log lines shown as
/// text. Every test fails on a console error, an uncaught error or a Content-Security-Policy violation.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class DeploymentPagesBrowserTests(BrowserFixture browser) : IAsyncLifetime
{
    private DeploymentPagesSite site = null!;

    public async Task InitializeAsync() => site = await DeploymentPagesSite.StartAsync();

    public async Task DisposeAsync() => await site.DisposeAsync();

    [BrowserFact]
    public async Task A_deployer_follows_a_deploy_live_cancels_it_locks_the_environment_and_rolls_back()
    {
        await site.DeployFirstAsync();
        var (secondGitHubId, _) = await site.Harness.DeployAsync(site.Repository, site.NextSha, DeploymentPagesSite.Environment, "main", creator: DeploymentPagesSite.Deployer);
        (await site.Harness.WaitForFinalStatusAsync(site.Repository, secondGitHubId)).State.ShouldBe("success");
        using var halfway = new ScriptGate();
        using var never = new ScriptGate();
        var gatedSha = site.Repository.CommitDeployScript($"""
            echo "step one"
            {halfway.Wait()}
            echo "step two"
            {never.Wait()}
            echo "never printed"
            """);
        var (gatedGitHubId, gatedId) = await site.Harness.DeployAsync(site.Repository, gatedSha, DeploymentPagesSite.Environment, "feature/slow", creator: DeploymentPagesSite.Deployer);

        // The dashboard is rendered once: the deploy must be running (at the gate) before it is opened.
        await Poll.UntilAsync(async () => (await site.Harness.DeploymentAsync(gatedId)).State == DeploymentState.Running, "the gated deploy to run");
        await using var session = await browser.OpenAsync(this);
        session.AcceptDialogs = true;
        var page = session.Page;
        await SignInAsync(page, DeploymentPagesSite.Deployer);

        var production = page.Locator($"tr[data-environment=\"{DeploymentPagesSite.Environment}\"]");
        await Expect(production.Locator(".badge.running")).ToContainTextAsync("Deploying feature/slow for");
        await Expect(production.Locator(".deployed .sha")).ToHaveTextAsync(site.NextSha[..7]);
        await Expect(production.Locator(".deployed .sha")).ToHaveAttributeAsync("href", $"{site.GitHub.Root}/{site.Repository.FullName}/commit/{site.NextSha}");
        await session.ScreenshotAsync("dashboard with a running deploy");

        await production.Locator(".badge.running").ClickAsync();
        await Expect(page).ToHaveURLAsync($"{site.Host.BaseAddress}deployments/{gatedId}");
        var lines = page.Locator(".log-line");
        await Expect(lines.Filter(new() { HasText = "step one" })).ToHaveCountAsync(1);
        await Expect(page.Locator("[data-log-status]")).ToHaveTextAsync("Live");
        var before = await lines.CountAsync();
        halfway.Open();
        await Expect(lines.Filter(new() { HasText = "step two" })).ToHaveCountAsync(1);
        (await lines.CountAsync()).ShouldBeGreaterThan(before, "the log grew while the page was open");
        await session.ScreenshotAsync("deployment page with the live log");

        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await Expect(page.Locator(".flash.notice").First).ToContainTextAsync($"Deployment {gatedId}");
        var cancelledBy = $"Cancelled by {DeploymentPagesSite.Deployer}";
        // Heaven records the deploy as cancelled; GitHub, which has no such state, is told error.
        await Expect(page.Locator("[data-log-status]")).ToHaveTextAsync($"Finished: cancelled. {cancelledBy}", new() { Timeout = 30_000 });
        var final = await site.Harness.WaitForFinalStatusAsync(site.Repository, gatedGitHubId);
        final.State.ShouldBe("error");
        final.Description.ShouldBe(cancelledBy);
        (await site.Harness.DeploymentAsync(gatedId)).State.ShouldBe(DeploymentState.Cancelled);
        await page.ReloadAsync();
        await Expect(page.Locator("[data-deployment-state]")).ToHaveTextAsync("cancelled");
        await Expect(page.Locator("td.description")).ToHaveTextAsync(cancelledBy);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Cancel" })).ToHaveCountAsync(0);
        await Expect(lines.Filter(new() { HasText = "never printed" })).ToHaveCountAsync(0);
        await session.ScreenshotAsync("deployment cancelled");

        await page.GetByRole(AriaRole.Link, new() { Name = $"{site.Repository.FullName} · {DeploymentPagesSite.Environment}" }).ClickAsync();
        await page.FillAsync("#lock-reason", "release freeze");
        await page.GetByRole(AriaRole.Button, new() { Name = "Lock" }).ClickAsync();
        await Expect(page.Locator(".badge.lock")).ToHaveTextAsync($"Locked by {DeploymentPagesSite.Deployer}: release freeze");
        await session.ScreenshotAsync("environment locked");
        await page.GotoAsync(site.Host.BaseAddress + "");
        await Expect(production.Locator(".badge.lock")).ToHaveTextAsync($"Locked by {DeploymentPagesSite.Deployer}: release freeze");
        await session.ScreenshotAsync("dashboard with the lock");

        await production.Locator("td.environment a").ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Rollback" }).ClickAsync();
        await Expect(page.Locator(".flash.notice")).ToContainTextAsync($"Rollback to {site.FirstSha[..7]}");
        var rollback = site.GitHub.CreatedDeployments.ShouldHaveSingleItem();
        ((string?)rollback["description"]).ShouldBe($"Rollback to {site.FirstSha[..7]}");
        ((string?)rollback["sha"]).ShouldBe(site.FirstSha);
        await session.ScreenshotAsync("rolled back");

        await session.AssertCleanAsync(
            $"Cancel deployment {gatedId}?",
            $"Roll {DeploymentPagesSite.Environment} back to the previous deployed commit?");
    }

    [BrowserFact]
    public async Task Hostile_refs_environment_names_and_log_lines_show_as_text_and_never_run()
    {
        const string environment = "<img src=x onerror=\"window.__xss=1\">";
        const string reference = "<script>window.__xss=2</script>";
        const string logLine = "<script>window.__xss=3</script><b>bold?</b>";
        var sha = site.Repository.CommitDeployScript($"echo '{logLine}'");
        var (gitHubId, heavenId) = await site.Harness.DeployAsync(site.Repository, sha, environment, "main", creator: DeploymentPagesSite.Reader);
        var finished = await site.Harness.WaitForFinalStatusAsync(site.Repository, gitHubId);
        finished.State.ShouldBe("success", finished.Description);
        // Heaven refuses to deploy such a ref, but records it, and its refusal quotes it.
        var (refusedGitHubId, refusedId) = await site.Harness.DeployAsync(site.Repository, sha, environment, reference, creator: DeploymentPagesSite.Reader);
        (await site.Harness.WaitForFinalStatusAsync(site.Repository, refusedGitHubId)).Description!.ShouldContain(reference);

        await using var session = await browser.OpenAsync(this);
        var page = session.Page;
        await SignInAsync(page, DeploymentPagesSite.Reader);

        var row = page.Locator("tr", new() { Has = page.Locator("td.environment", new() { HasText = environment }) });
        await Expect(row.Locator("td.environment")).ToHaveTextAsync(environment);
        await Expect(row.Locator("a.ref")).ToHaveTextAsync("main");
        await session.ScreenshotAsync("dashboard with hostile names");

        await row.Locator("td.environment a").ClickAsync();
        await Expect(page.Locator("h1")).ToHaveTextAsync($"{site.Repository.FullName} · {environment}");
        await Expect(page.Locator(".history td.ref")).ToHaveTextAsync([reference, "main"]);
        await Expect(page.Locator(".history td.description").First).ToContainTextAsync(reference);
        await session.ScreenshotAsync("environment with hostile names");

        await page.GotoAsync($"{site.Host.BaseAddress}deployments/{refusedId}");
        await Expect(page.Locator("td.ref")).ToHaveTextAsync(reference);
        await Expect(page.Locator("td.environment")).ToHaveTextAsync(environment);
        await Expect(page.Locator("[data-log-status]")).ToContainTextAsync(reference);
        (await page.EvaluateAsync<bool>("() => window.__xss === undefined")).ShouldBeTrue("no hostile value ran as script");

        await page.GotoAsync($"{site.Host.BaseAddress}deployments/{heavenId}");
        await Expect(page.Locator("td.environment")).ToHaveTextAsync(environment);
        await Expect(page.Locator(".log-line").Filter(new() { HasText = "bold?" })).ToHaveTextAsync(logLine);
        await Expect(page.Locator("[data-log-status]")).ToContainTextAsync("Finished: success.");
        await session.ScreenshotAsync("deployment with a hostile log");

        (await page.EvaluateAsync<bool>("() => window.__xss === undefined")).ShouldBeTrue("no hostile value ran as script");
        (await page.Locator("script").CountAsync()).ShouldBe(1, "the only script is heaven.js");
        (await page.Locator("main img, main b").CountAsync()).ShouldBe(0, "no hostile value became an element");
        await session.AssertCleanAsync();
    }

    private async Task SignInAsync(IPage page, string login)
    {
        site.GitHub.OAuthUser = new FakeGitHubUser(login, login.GetHashCode() & 0xffff);
        await page.GotoAsync(site.Host.BaseAddress.ToString());
        await Expect(page).ToHaveURLAsync(site.Host.BaseAddress.ToString());
        await Expect(page.Locator(".login")).ToHaveTextAsync(login);
        await Expect(page.Locator("h1")).ToHaveTextAsync("Dashboard");
    }
}
