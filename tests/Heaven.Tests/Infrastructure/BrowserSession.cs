using System.Collections.Concurrent;
using System.Text;
using Microsoft.Playwright;

namespace Heaven.Tests.Infrastructure;

/// <summary>
/// One test's browser context and page. Whatever a page does wrong is collected as it happens: console
/// errors, uncaught exceptions, Content-Security-Policy violations (Heaven's pages run under a strict
/// policy, so each one is a bug) and dialogs nobody expected. <see cref="AssertCleanAsync"/> fails the
/// test on any of them; disposing a session that was never checked checks it.
/// </summary>
public sealed class BrowserSession : IAsyncDisposable
{
    public const int PhoneWidth = 375;
    public const int LaptopWidth = 1280;

    private const string ViolationBinding = "heavenTestReportViolation";

    private readonly ConcurrentQueue<string> problems = new();
    private readonly ConcurrentQueue<string> dialogs = new();
    private readonly string testName;
    private int screenshots;
    private bool checkedClean;

    private BrowserSession(IBrowserContext context, IPage page, string testName)
    {
        Context = context;
        Page = page;
        this.testName = testName;
    }

    public IBrowserContext Context { get; }

    public IPage Page { get; }

    /// <summary>How the next dialogs (<c>confirm</c>, <c>alert</c>) are answered; dismissed unless a test says otherwise.</summary>
    public bool AcceptDialogs { get; set; }

    /// <summary>Every dialog the page opened, by its message.</summary>
    public IReadOnlyList<string> Dialogs => dialogs.ToArray();

    /// <summary>What went wrong in the page so far.</summary>
    public IReadOnlyList<string> Problems => problems.ToArray();

    internal static async Task<BrowserSession> StartAsync(IBrowserContext context, string testName)
    {
        var page = await context.NewPageAsync();
        var session = new BrowserSession(context, page, testName);
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                session.problems.Enqueue($"console error: {message.Text} ({message.Location})");
            }
        };
        page.PageError += (_, error) => session.problems.Enqueue($"uncaught error: {error}");
        page.Dialog += async (_, dialog) =>
        {
            session.dialogs.Enqueue(dialog.Message);
            if (session.AcceptDialogs)
            {
                await dialog.AcceptAsync();
            }
            else
            {
                await dialog.DismissAsync();
            }
        };

        // The report goes through a binding Playwright installs from outside the page, so the page's
        // own policy does not stop it.
        await context.ExposeBindingAsync(ViolationBinding, (BindingSource _, string report) =>
        {
            session.problems.Enqueue($"Content-Security-Policy violation: {report}");
        });
        await context.AddInitScriptAsync($$"""
            document.addEventListener('securitypolicyviolation', (event) => {
              window.{{ViolationBinding}}(JSON.stringify({ directive: event.violatedDirective, blocked: event.blockedURI, source: event.sourceFile, line: event.lineNumber, sample: event.sample }));
            });
            """);
        return session;
    }

    /// <summary>A full-page PNG in the screenshots folder, named after the test and <paramref name="step"/>.</summary>
    public async Task<string> ScreenshotAsync(string step)
    {
        var number = Interlocked.Increment(ref screenshots);
        var path = Path.Combine(TestArtifacts.ScreenshotDirectory, $"{FileName(testName)}-{number:00}-{FileName(step)}.png");
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        return path;
    }

    /// <summary>Fails unless the page had no console error, uncaught error, policy violation or unexpected dialog.</summary>
    /// <param name="expectedDialogs">The dialogs the test caused on purpose, in order.</param>
    public async Task AssertCleanAsync(params string[] expectedDialogs)
    {
        checkedClean = true;
        // A violation report travels through the binding: a round trip through the page lets any
        // report sent before it arrive first.
        await Page.EvaluateAsync("() => 0");
        Problems.ShouldBeEmpty($"the page of {testName} reported problems");
        Dialogs.ShouldBe(expectedDialogs, $"the dialogs {testName}'s page opened");
    }

    /// <summary>The problems so far, which then no longer fail the test: for a test that causes them on purpose.</summary>
    public async Task<IReadOnlyList<string>> TakeProblemsAsync()
    {
        await Page.EvaluateAsync("() => 0");
        var taken = new List<string>();
        while (problems.TryDequeue(out var problem))
        {
            taken.Add(problem);
        }

        return taken;
    }

    public async ValueTask DisposeAsync()
    {
        var unreported = !checkedClean && !problems.IsEmpty;
        var report = string.Join(Environment.NewLine, problems);
        await Context.CloseAsync();
        if (unreported)
        {
            throw new InvalidOperationException($"The page of {testName} reported problems:{Environment.NewLine}{report}");
        }
    }

    private static string FileName(string text)
    {
        var name = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '-');
        }

        return name.ToString();
    }
}

/// <summary>Where tests leave files for a person to look at: screenshots of the pages they drove.</summary>
public static class TestArtifacts
{
    /// <summary>
    /// <c>HEAVEN_TEST_SCREENSHOTS</c> (./test.sh sets it to <c>screenshots</c> in its results folder),
    /// else <c>TestResults/screenshots</c> in the repository.
    /// </summary>
    public static string ScreenshotDirectory { get; } = Prepare();

    private static string Prepare()
    {
        var directory = Environment.GetEnvironmentVariable("HEAVEN_TEST_SCREENSHOTS") is { Length: > 0 } configured
            ? configured
            : Path.Combine(RepositoryRoot.Path, "TestResults", "screenshots");
        Directory.CreateDirectory(directory);
        return directory;
    }
}
