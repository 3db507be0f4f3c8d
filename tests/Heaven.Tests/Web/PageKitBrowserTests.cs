using Heaven.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Heaven.Tests.Web;

/// <summary>
/// Heaven's page kit in a real Chromium, under the strict Content-Security-Policy of Heaven's pages:
/// every test fails on a console error, an uncaught error, a policy violation or an unexpected dialog.
/// Screenshots of each step land in the test results' screenshots folder.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class PageKitBrowserTests(BrowserFixture browser) : IAsyncLifetime
{
    private PageKitSite site = null!;

    public async Task InitializeAsync() => site = await PageKitSite.StartAsync();

    public async Task DisposeAsync() => await site.DisposeAsync();

    [BrowserFact]
    public async Task Hostile_names_and_log_lines_are_shown_as_text_and_never_run()
    {
        await using var session = await browser.OpenAsync(this);
        var page = session.Page;
        await page.GotoAsync(site.Url("/hostile"));
        await site.Log.WaitForConnectionsAsync(1);
        site.Log.Line(1, PageKitSite.HostileLogLine);
        site.Log.Line(2, "\u001b[31m" + PageKitSite.HostileRef + "\u001b[0m", "stderr");
        site.Log.End("success", PageKitSite.HostileEnvironment);

        await Expect(page.Locator("[data-log-status]")).ToHaveTextAsync($"Finished: success. {PageKitSite.HostileEnvironment}");
        await Expect(page.Locator("td.ref")).ToHaveTextAsync(PageKitSite.HostileRef);
        await Expect(page.Locator("td.environment")).ToHaveTextAsync(PageKitSite.HostileEnvironment);
        await Expect(page.Locator("td.message")).ToHaveTextAsync(PageKitSite.HostileMessage);
        await Expect(page.Locator("td.message")).ToHaveAttributeAsync("title", PageKitSite.HostileMessage);
        (await page.Locator("td.message").EvaluateAsync<bool>("cell => cell.hasAttribute('onmouseover')")).ShouldBeFalse();
        await Expect(page.Locator("h1")).ToHaveTextAsync($"Deploy {PageKitSite.HostileRef} to {PageKitSite.HostileEnvironment}");
        (await page.TitleAsync()).ShouldBe($"Deploy {PageKitSite.HostileRef} to {PageKitSite.HostileEnvironment} · Heaven");
        await Expect(page.Locator(".login")).ToHaveTextAsync(PageKitSite.HostileLogin);
        await Expect(page.Locator("#note")).ToHaveValueAsync(PageKitSite.HostileRef);
        await Expect(page.Locator(".log-line")).ToHaveTextAsync([PageKitSite.HostileLogLine, PageKitSite.HostileRef]);
        await page.Locator(".message").HoverAsync();
        await session.ScreenshotAsync("hostile values as text");

        (await page.EvaluateAsync<bool>("() => window.__xss === undefined")).ShouldBeTrue("no hostile value ran as script");
        (await page.Locator("script").CountAsync()).ShouldBe(1, "the only script is heaven.js");
        (await page.Locator("main img, .log-lines b, main b").CountAsync()).ShouldBe(0, "no hostile value became an element");
        await session.AssertCleanAsync();
    }

    [BrowserFact]
    public async Task The_live_log_resumes_after_a_dropped_connection_without_losing_or_repeating_a_line()
    {
        await using var session = await browser.OpenAsync(this);
        var page = session.Page;
        await page.GotoAsync(site.Url("/live"));
        await site.Log.WaitForConnectionsAsync(1);
        for (var line = 1; line <= 5; line++)
        {
            site.Log.Line(line, $"line {line}");
        }

        var lines = page.Locator(".log-line");
        await Expect(lines).ToHaveCountAsync(5);
        await Expect(page.Locator("[data-log-status]")).ToHaveTextAsync("Live");
        await session.ScreenshotAsync("five lines");

        site.Log.Drop();
        await site.Log.WaitForConnectionsAsync(2);
        site.Log.Connections.ShouldBe([null, "5"], "the browser resumes after the last line it received");
        // A server resuming from an older position repeats lines 4 and 5: they must not show twice.
        for (var line = 4; line <= 8; line++)
        {
            site.Log.Line(line, $"line {line}", line == 7 ? "stderr" : "stdout");
        }

        site.Log.End("success", "Deployed in 12 s");

        await Expect(page.Locator("[data-log-status]")).ToHaveTextAsync("Finished: success. Deployed in 12 s");
        await Expect(lines).ToHaveTextAsync(Enumerable.Range(1, 8).Select(n => $"line {n}").ToArray());
        (await lines.EvaluateAllAsync<string[]>("all => all.map(line => line.dataset.line)")).ShouldBe(Enumerable.Range(1, 8).Select(n => $"{n}").ToArray());
        await Expect(page.Locator(".log-line[data-line='7']")).ToHaveClassAsync("log-line log-stderr");
        await Expect(page.Locator(".live-log")).ToHaveAttributeAsync("data-log-state", "success");
        site.Log.Connections.Count.ShouldBe(2);
        await session.ScreenshotAsync("finished");
        await session.AssertCleanAsync();
    }

    [BrowserFact]
    public async Task Ansi_colours_become_classed_spans_and_other_escape_sequences_are_dropped()
    {
        await using var session = await browser.OpenAsync(this);
        var page = session.Page;
        await page.GotoAsync(site.Url("/live"));
        await site.Log.WaitForConnectionsAsync(1);
        site.Log.Line(1, "\u001b[31mred\u001b[0m plain \u001b[1;32mbold green\u001b[22m green\u001b[39m done");
        site.Log.Line(2, "\u001b]0;window title\u0007\u001b[2K\u001b[?25lcleared \u001b[38;5;12mbright blue\u001b[38;2;1;2;3m true colour\u001b[m");
        site.Log.Line(3, "10%\r50%\r100%");
        site.Log.Line(4, "\u001b[97;41m alert \u001b[0m\u001b");
        site.Log.End("failure", "Deploy failed");

        await Expect(page.Locator("[data-log-status]")).ToHaveTextAsync("Finished: failure. Deploy failed");
        var lines = page.Locator(".log-line");
        await Expect(lines).ToHaveTextAsync(["red plain bold green green done", "cleared bright blue true colour", "100%", " alert "]);
        (await lines.Nth(0).Locator("span").EvaluateAllAsync<string[]>("spans => spans.map(s => s.className + '=' + s.textContent)"))
            .ShouldBe(["ansi-fg-1=red", "ansi-bold ansi-fg-2=bold green", "ansi-fg-2= green"]);
        (await lines.Nth(1).Locator("span").EvaluateAllAsync<string[]>("spans => spans.map(s => s.className + '=' + s.textContent)"))
            .ShouldBe(["ansi-fg-12=bright blue"]);
        (await lines.Nth(3).Locator("span").EvaluateAllAsync<string[]>("spans => spans.map(s => s.className + '=' + s.textContent)"))
            .ShouldBe(["ansi-fg-15 ansi-bg-1= alert "]);
        (await lines.Nth(0).Locator("span.ansi-fg-1").EvaluateAsync<string>("span => getComputedStyle(span).color")).ShouldBe("rgb(255, 123, 114)");
        await session.ScreenshotAsync("colours");
        await session.AssertCleanAsync();
    }

    [BrowserFact]
    public async Task The_log_follows_new_lines_until_the_reader_scrolls_up()
    {
        await using var session = await browser.OpenAsync(this);
        var page = session.Page;
        await page.GotoAsync(site.Url("/live"));
        await site.Log.WaitForConnectionsAsync(1);
        var lines = page.Locator(".log-line");
        var view = page.Locator("[data-log-lines]");
        for (var line = 1; line <= 150; line++)
        {
            site.Log.Line(line, $"building step {line}");
        }

        await Expect(lines).ToHaveCountAsync(150);
        (await DistanceFromBottomAsync(view)).ShouldBeLessThan(8, "the view follows the newest line");

        // The reader scrolls to the top (the page sees the same scroll event a wheel or a finger makes).
        await view.EvaluateAsync("v => v.scrollTop = 0");
        await AfterNextFrameAsync(page);
        for (var line = 151; line <= 200; line++)
        {
            site.Log.Line(line, $"building step {line}");
        }

        await Expect(lines).ToHaveCountAsync(200);
        (await view.EvaluateAsync<double>("v => v.scrollTop")).ShouldBeLessThan(1, "the reader's place stays where they scrolled to");
        await session.ScreenshotAsync("scrolled up while lines arrive");

        await view.EvaluateAsync("v => v.scrollTop = v.scrollHeight");
        await AfterNextFrameAsync(page);
        site.Log.Line(201, "building step 201");
        await Expect(lines).ToHaveCountAsync(201);
        (await DistanceFromBottomAsync(view)).ShouldBeLessThan(8, "back at the bottom, the view follows again");
        await session.AssertCleanAsync();
    }

    [BrowserFact]
    public async Task Times_read_relative_with_the_exact_utc_time_on_hover_and_stay_current()
    {
        await using var session = await browser.OpenAsync(this);
        var page = session.Page;
        site.Now = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
        // The browser's clock stands where the server's did when it rendered the page.
        await page.Clock.InstallAsync(new ClockInstallOptions { TimeDate = site.Now.UtcDateTime });
        await page.GotoAsync(site.Url("/hostile"));
        var time = page.Locator("td.when time");
        await Expect(time).ToHaveTextAsync("3 min ago");
        await Expect(time).ToHaveAttributeAsync("title", "2026-03-01 11:57:00 UTC");
        await Expect(time).ToHaveAttributeAsync("datetime", "2026-03-01T11:57:00Z");

        await page.Clock.RunForAsync(2 * 60 * 1000);
        await Expect(time).ToHaveTextAsync("5 min ago");
        await page.Clock.RunForAsync(3 * 60 * 60 * 1000);
        await Expect(time).ToHaveTextAsync("3 h ago");
        await session.ScreenshotAsync("three hours later");
        await session.AssertCleanAsync();
    }

    [BrowserFact]
    public async Task A_dangerous_button_asks_first_and_sends_nothing_when_the_answer_is_no()
    {
        await using var session = await browser.OpenAsync(this);
        var page = session.Page;
        await page.GotoAsync(site.Url("/hostile"));
        var question = $"Cancel the deploy of {PageKitSite.HostileRef} to {PageKitSite.HostileEnvironment}?";

        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel deployment" }).ClickAsync();
        // The refused form is gone for good once another form's answer has arrived.
        await page.GetByRole(AriaRole.Button, new() { Name = "Save note" }).ClickAsync();
        // The address, not the load event: a wait for "load" can start after it fired and miss it.
        await Expect(page).ToHaveURLAsync(site.Url("/done"), new() { Timeout = 30_000 });
        site.Posts("note").ShouldBe(1);
        site.Posts("cancel").ShouldBe(0, "the answer was no");

        await page.GotoAsync(site.Url("/hostile"));
        session.AcceptDialogs = true;
        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel deployment" }).ClickAsync();
        // The address, not the load event: a wait for "load" can start after it fired and miss it.
        await Expect(page).ToHaveURLAsync(site.Url("/done"), new() { Timeout = 30_000 });
        site.Posts("cancel").ShouldBe(1);
        await session.ScreenshotAsync("sent after yes");
        await session.AssertCleanAsync(question, question);
    }

    [BrowserFact]
    public async Task The_layout_fits_a_phone() => await AssertLayoutFitsAsync(BrowserSession.PhoneWidth);

    [BrowserFact]
    public async Task The_layout_fits_a_laptop() => await AssertLayoutFitsAsync(BrowserSession.LaptopWidth);

    [BrowserFact]
    public async Task The_tests_notice_a_page_that_breaks_the_content_security_policy()
    {
        await using var session = await browser.OpenAsync(this);
        await session.Page.GotoAsync(site.Url("/policy-breaker"));
        (await session.Page.EvaluateAsync<bool>("() => window.__inline === undefined")).ShouldBeTrue("the policy blocks inline script");
        var problems = await Poll.ForAsync(() => session.TakeProblemsAsync(), found => found.Count > 0, "the violations to be reported");
        var all = string.Join("\n", problems.Concat(await session.TakeProblemsAsync()));
        all.ShouldContain("Content-Security-Policy violation");
        all.ShouldContain("script-src");
    }

    private async Task AssertLayoutFitsAsync(int width, [System.Runtime.CompilerServices.CallerMemberName] string test = "")
    {
        await using var session = await browser.OpenAsync(this, width, test);
        var page = session.Page;
        await page.GotoAsync(site.Url("/layout"));
        await Expect(page.GetByRole(AriaRole.Banner)).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Main)).ToBeVisibleAsync();
        (await page.Locator("html").GetAttributeAsync("lang")).ShouldBe("en");

        var navigation = page.GetByRole(AriaRole.Navigation, new() { Name = "Main" });
        foreach (var label in new[] { "Dashboard", "Locks", "Deliveries", "Outbox", "Auto-deploy", "Nodes", "Tokens" })
        {
            var link = navigation.GetByRole(AriaRole.Link, new() { Name = label, Exact = true });
            await Expect(link).ToBeInViewportAsync(new() { Ratio = 1 });
        }

        await Expect(navigation.GetByRole(AriaRole.Link, new() { Name = "Dashboard" })).ToHaveAttributeAsync("aria-current", "page");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Sign out" })).ToBeInViewportAsync(new() { Ratio = 1 });
        await Expect(page.GetByLabel("Environment")).ToBeVisibleAsync();
        (await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"))
            .ShouldBeTrue($"the page does not scroll sideways at {width}px (a wide table scrolls inside its own box)");
        (await page.Locator("th").EvaluateAllAsync<bool>("cells => cells.every(cell => cell.scope === 'col')")).ShouldBeTrue();
        await session.ScreenshotAsync($"{width}px");
        await session.AssertCleanAsync();
    }

    private static Task<double> DistanceFromBottomAsync(ILocator view) =>
        view.EvaluateAsync<double>("v => v.scrollHeight - v.scrollTop - v.clientHeight");

    // Scroll events are delivered before the next frame is drawn: after it, the page has seen them.
    private static Task AfterNextFrameAsync(IPage page) =>
        page.EvaluateAsync("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))");
}
