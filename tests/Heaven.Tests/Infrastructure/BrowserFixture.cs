using Microsoft.Playwright;

namespace Heaven.Tests.Infrastructure;

/// <summary>
/// One headless Chromium for a whole collection (Debian's <c>chromium</c>, driven by Playwright; never
/// a browser download). Each test opens its own context, with fresh cookies and storage, through
/// <see cref="OpenAsync"/>.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private IPlaywright? playwright;
    private IBrowser? browser;

    /// <summary>The Chromium the tests drive: <c>HEAVEN_TEST_CHROMIUM</c>, else Debian's <c>/usr/bin/chromium</c>.</summary>
    public static string ExecutablePath =>
        Environment.GetEnvironmentVariable("HEAVEN_TEST_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public static string? SkipReason =>
        File.Exists(ExecutablePath) ? null : $"needs Chromium at {ExecutablePath} (./test.sh installs Debian's chromium; HEAVEN_TEST_CHROMIUM names another)";

    public async Task InitializeAsync()
    {
        if (SkipReason is not null)
        {
            // The tests skip themselves (BrowserFact); nothing to start.
            return;
        }

        // The Chromium is given: Playwright must never try to fetch one of its own.
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        playwright = await Playwright.CreateAsync();
        var arguments = new List<string>
        {
            "--disable-gpu",
            // The machine has no network but the loopback: no update checks, sync or QUIC probes
            // (each would fail, slowly and noisily).
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
        };
        if (Heaven.Execution.Posix.EffectiveUserId == 0)
        {
            // Chromium refuses to start as root with its sandbox on (the sandbox relies on dropping
            // privileges that root cannot meaningfully drop). CI runs the suite as root; the pages
            // under test are Heaven's own, served from 127.0.0.1.
            arguments.Add("--no-sandbox");
        }

        browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = arguments,
        });
    }

    /// <summary>
    /// A new browser context and page for one test, <paramref name="width"/> pixels wide; what goes
    /// wrong in the page (console errors, uncaught exceptions, Content-Security-Policy violations,
    /// dialogs) is collected for <see cref="BrowserSession.AssertCleanAsync"/>.
    /// </summary>
    /// <param name="test">The test, for screenshot names; filled in by the compiler.</param>
    public async Task<BrowserSession> OpenAsync(object testClass, int width = BrowserSession.LaptopWidth, [System.Runtime.CompilerServices.CallerMemberName] string test = "")
    {
        var started = browser ?? throw new InvalidOperationException(SkipReason ?? "The browser did not start.");
        var phone = width < 600;
        var context = await started.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = phone ? 740 : 800 },
            IsMobile = phone,
            HasTouch = phone,
            Locale = "en-US",
            TimezoneId = "UTC",
        });
        return await BrowserSession.StartAsync(context, $"{testClass.GetType().Name}.{test}");
    }

    public async Task DisposeAsync()
    {
        if (browser is not null)
        {
            await browser.CloseAsync();
        }

        playwright?.Dispose();
    }
}

/// <summary>A test that drives the browser: skipped, saying why, where Chromium is not installed.</summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (BrowserFixture.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}
