using Heaven.Configuration;
using Heaven.Deployments;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Heaven.Tests.Web.AdminPagesSite;
using static Microsoft.Playwright.Assertions;

namespace Heaven.Tests.Web;

/// <summary>
/// The operator pages in Chromium, under Heaven's real Content-Security-Policy: an administrator signs
/// in through the fake GitHub, reads every page, and makes and revokes a token with the page's forms.
/// Screenshots of each page land in the test results' screenshots folder.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class AdminPagesBrowserTests(BrowserFixture browser) : IAsyncLifetime
{
    private AdminPagesSite site = null!;

    public async Task InitializeAsync() => site = await AdminPagesSite.StartAsync();

    public async Task DisposeAsync() => await site.DisposeAsync();

    private string Url(string path) => new Uri(site.Host.BaseAddress, path).ToString();

    [BrowserFact]
    public async Task An_admin_signs_in_reads_every_operator_page_and_creates_and_revokes_a_token()
    {
        site.GitHub.OAuthUser = new FakeGitHubUser(Admin, 4242);
        await using var session = await browser.OpenAsync(this);
        var page = session.Page;

        await page.GotoAsync(Url("/signin?returnUrl=%2Fdeliveries"));
        await Expect(page.Locator("h1")).ToHaveTextAsync("Deliveries");
        await Expect(page.Locator(".login")).ToHaveTextAsync(Admin);
        await Expect(page.Locator("nav a[aria-current=page]")).ToHaveTextAsync("Deliveries");
        await Expect(page.Locator("td.message")).ToHaveTextAsync("pong " + HostileScript);
        await session.ScreenshotAsync("deliveries");

        await page.Locator($"a[href='/deliveries/{HostileDeliveryId}']").ClickAsync();
        await Expect(page.Locator("h1")).ToHaveTextAsync($"Delivery {HostileDeliveryId}");
        await Expect(page.Locator("pre.delivery-body")).ToContainTextAsync(HostileScript);
        await Expect(page.Locator("pre.delivery-body")).ToContainTextAsync("onerror=\\\"window.__xss = 2\\\"");
        await session.ScreenshotAsync("delivery body as text");
        (await page.EvaluateAsync<bool>("() => window.__xss === undefined")).ShouldBeTrue("no markup from the delivery ran");
        (await page.Locator("main img, main script").CountAsync()).ShouldBe(0);

        await page.GotoAsync(Url("/outbox"));
        await Expect(page.Locator("td.last-error")).ToHaveTextAsync(["", FailedError]);
        await page.GetByRole(AriaRole.Link, new() { Name = "Show problems only" }).ClickAsync();
        await Expect(page.Locator("table.outbox tbody tr")).ToHaveCountAsync(1);
        await session.ScreenshotAsync("outbox problems only");

        await page.GotoAsync(Url("/auto-deploy"));
        await Expect(page.Locator("table.auto-deploy tbody tr")).ToHaveCountAsync(2);
        await page.Locator("#repository").FillAsync(App);
        await page.GetByRole(AriaRole.Button, new() { Name = "Show" }).ClickAsync();
        await Expect(page.Locator("td.reason")).ToHaveTextAsync("CI is green " + HostileScript);
        await session.ScreenshotAsync("auto-deploy of one repository");

        await page.GotoAsync(Url("/locks"));
        await Expect(page.Locator("td.reason")).ToHaveTextAsync([HostileReason, SecretReason]);
        (await page.EvaluateAsync<bool>("() => window.__xss === undefined")).ShouldBeTrue("no markup from a lock reason ran");
        (await page.Locator("main img").CountAsync()).ShouldBe(0);
        await session.ScreenshotAsync("locks");

        await page.GotoAsync(Url("/tokens"));
        await page.Locator("#token-name").FillAsync("ci-bot");
        await page.Locator("#token-scope").SelectOptionAsync("deploy");
        await page.Locator("#token-expiry").FillAsync("30");
        await session.ScreenshotAsync("new token form");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create token" }).ClickAsync();
        await Expect(page.Locator("h1")).ToHaveTextAsync("Token created");
        var text = await page.Locator("#new-token").InputValueAsync();
        text.ShouldStartWith("heaven_");
        await Expect(page.Locator(".copy-hint")).ToContainTextAsync("shown only this once");
        await session.ScreenshotAsync("token shown once");

        await page.GetByRole(AriaRole.Link, new() { Name = "Back to the tokens" }).ClickAsync();
        await Expect(page.Locator("td.token-name")).ToHaveTextAsync("ci-bot");
        (await page.ContentAsync()).ShouldNotContain(text);
        await page.GetByRole(AriaRole.Button, new() { Name = "Revoke" }).ClickAsync();
        // Dismissed: nothing happened.
        await Expect(page.Locator("td.token-name")).ToHaveTextAsync("ci-bot");
        session.AcceptDialogs = true;
        await page.GetByRole(AriaRole.Button, new() { Name = "Revoke" }).ClickAsync();
        await Expect(page.Locator(".notice-success")).ToHaveTextAsync("Token ci-bot is revoked; it no longer works.");
        await Expect(page.Locator("td.token-name")).ToHaveCountAsync(0);
        await session.ScreenshotAsync("token revoked");

        const string question = "Revoke token ci-bot? Whatever uses it stops working at once.";
        await session.AssertCleanAsync(question, question);
    }

    [BrowserFact]
    public async Task A_reader_sees_the_nodes_with_a_gone_one_and_exact_times_on_hover()
    {
        var now = site.Host.Services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        await site.Host.QueryAsync(async db =>
        {
            db.Nodes.Add(new NodeRecord { Id = "killed-host-0001", RunId = "r1", HostName = "killed-host", Version = "1.2.3", LeaseSeconds = 30, StartedAt = now.AddHours(-3), HeartbeatAt = now.AddMinutes(-5) });
            return await db.SaveChangesAsync();
        });
        var self = site.Host.Services.GetRequiredService<NodeIdentity>().Id;
        site.GitHub.OAuthUser = new FakeGitHubUser(Reader, 4343);
        await using var session = await browser.OpenAsync(this);
        var page = session.Page;

        await page.GotoAsync(Url("/signin?returnUrl=%2Fnodes"));
        await Expect(page.Locator("h1")).ToHaveTextAsync("Nodes");
        await Expect(page.Locator("nav a[aria-current=page]")).ToHaveTextAsync("Nodes");
        await Expect(page.Locator("table.nodes tbody tr")).ToHaveCountAsync(2);
        var mine = page.Locator("table.nodes tbody tr").Nth(0);
        await Expect(mine.Locator("td.node-id")).ToHaveTextAsync($"{self} this node");
        await Expect(mine.Locator("td.node-state")).ToHaveTextAsync("running");
        await Expect(mine.Locator("td.node-running")).ToHaveTextAsync("0");
        await Expect(mine.Locator("td.node-version")).ToHaveAttributeAsync("title", Heaven.Configuration.HeavenVersion.Current);
        (await mine.Locator("td.node-state .badge").EvaluateAsync<bool>("badge => badge.getBoundingClientRect().height < 2.5 * parseFloat(getComputedStyle(badge).fontSize)")).ShouldBeTrue("the state badge stays on one line");
        var gone = page.Locator("table.nodes tbody tr").Nth(1);
        await Expect(gone.Locator("td.node-id")).ToHaveTextAsync("killed-host-0001");
        await Expect(gone.Locator("td.node-host")).ToHaveTextAsync("killed-host");
        await Expect(gone.Locator("td.node-version")).ToHaveTextAsync("1.2.3");
        await Expect(gone.Locator("td.node-state")).ToHaveTextAsync("gone");
        await Expect(gone.Locator("td.node-heartbeat time")).ToHaveTextAsync("5 min ago");
        await Expect(gone.Locator("td.node-heartbeat time")).ToHaveAttributeAsync("title", now.AddMinutes(-5).ToString("yyyy-MM-dd HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture));
        await Expect(gone.Locator("td.node-started time")).ToHaveTextAsync("3 h ago");
        await session.ScreenshotAsync("nodes");
        await session.AssertCleanAsync();
    }
}
