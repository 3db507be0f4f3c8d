using System.Net;
using System.Text.RegularExpressions;
using Heaven.Model;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Web;

/// <summary>
/// The dashboard at scale: repositories 50 a page, the most recently deployed first, a filter by name,
/// and a reader who never sees a repository they may not read on any page.
/// </summary>
public sealed partial class DashboardPagingTests : IAsyncLifetime
{
    // team/svc-000 deployed first, team/svc-119 last; the reader may read all but every third.
    private const int Repositories = 120;
    private DeploymentPagesSite site = null!;

    private static string Name(int i) => $"team/svc-{i:000}";

    private static bool ReaderMayRead(int i) => i % 3 != 0;

    public async Task InitializeAsync()
    {
        site = await DeploymentPagesSite.StartAsync();
        var start = new DateTime(2026, 3, 1, 12, 0, 0, DateTimeKind.Utc);
        var rows = Enumerable.Range(0, Repositories).Select(i => new DeploymentRecord
        {
            GitHubDeploymentId = 90_000 + i,
            Repository = Name(i),
            CloneUrl = $"https://github.com/{Name(i)}.git",
            Ref = "main",
            Sha = new string('a', 40),
            Task = "deploy",
            Environment = "production",
            PayloadJson = """{"config":{"provider":"shell"}}""",
            CreatorLogin = "hubot",
            Deployer = "alice",
            DeliveryId = Guid.NewGuid().ToString(),
            ReceivedAt = start.AddMinutes(i),
            App = $"svc-{i:000}",
            ExclusivityKey = ExclusivityKey.KeyOf(Name(i), $"svc-{i:000}", "production"),
            State = DeploymentState.Succeeded,
            StateChangedAt = start.AddMinutes(i),
            StartedAt = start.AddMinutes(i),
            FinishedAt = start.AddMinutes(i),
            Provider = "shell",
        }).ToList();
        await site.Host.QueryAsync(async db =>
        {
            db.Deployments.AddRange(rows);
            return await db.SaveChangesAsync();
        });
        for (var i = 0; i < Repositories; i++)
        {
            site.GitHub.SetPermission(Name(i), DeploymentPagesSite.Reader, ReaderMayRead(i) ? "read" : "none");
        }
    }

    public async Task DisposeAsync() => await site.DisposeAsync();

    [GeneratedRegex("<section class=\"repository\">\\s*<h2><a href=\"[^\"]*\">([^<]+)</a>")]
    private static partial Regex RepositoryHeading();

    private static List<string> Shown(string html) => RepositoryHeading().Matches(html).Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)).ToList();

    [Fact]
    public async Task AReader_PagesThroughTheRepositoriesTheyMayRead_MostRecentlyDeployedFirst()
    {
        using var browser = await site.SignedInAsync(DeploymentPagesSite.Reader);
        var readable = Enumerable.Range(0, Repositories).Reverse().Where(ReaderMayRead).Select(Name).ToList();

        var first = await browser.GetStringAsync("/");
        Shown(first).ShouldBe(readable.Take(50));
        first.ShouldContain("<a rel=\"next\" href=\"/?page=2\">Older repositories</a>");
        first.ShouldNotContain("Newer repositories");

        var second = await browser.GetStringAsync("/?page=2");
        Shown(second).ShouldBe(readable.Skip(50));
        second.ShouldContain("<a rel=\"prev\" href=\"/\">Newer repositories</a>");
        second.ShouldNotContain("Older repositories");

        var beyond = await browser.GetAsync("/?page=3");
        var html = await beyond.Content.ReadAsStringAsync();
        beyond.StatusCode.ShouldBe(HttpStatusCode.OK, html);
        Shown(html).ShouldBeEmpty();
        html.ShouldContain("There is no page 3 of repositories you may see. <a href=\"/\">Back to the first page</a>");
    }

    [Fact]
    public async Task TheNameFilter_ShowsOnlyMatchingRepositories_ItIgnoresCase_AndPagesKeepIt()
    {
        using var browser = await site.SignedInAsync(DeploymentPagesSite.Deployer);
        foreach (var i in Enumerable.Range(0, Repositories))
        {
            site.GitHub.SetPermission(Name(i), DeploymentPagesSite.Deployer, "write");
        }

        var page = await browser.GetStringAsync("/?q=SVC-11");
        Shown(page).ShouldBe(Enumerable.Range(110, 10).Reverse().Select(Name));
        page.ShouldContain("<label for=\"q\">Repository name contains</label>");
        page.ShouldContain("<input id=\"q\" name=\"q\" type=\"search\" value=\"SVC-11\"");

        var many = await browser.GetStringAsync("/?q=team%2F");
        Shown(many).Count.ShouldBe(50);
        many.ShouldContain("href=\"/?q=team%2F&amp;page=2\">Older repositories</a>");
        Shown(await browser.GetStringAsync("/?q=team%2F&page=3")).ShouldBe(Enumerable.Range(0, 20).Reverse().Select(Name));

        var none = await browser.GetStringAsync("/?q=nothing-like-it");
        Shown(none).ShouldBeEmpty();
        none.ShouldContain("No repository you may see has a name containing “nothing-like-it”.");
    }

    [Fact]
    public async Task SomeoneWhoMayReadNone_SeesNoRepositoryOnAnyPage()
    {
        using var browser = await site.SignedInAsync(DeploymentPagesSite.Stranger);
        foreach (var path in new[] { "/", "/?page=2", "/?page=3", "/?q=svc" })
        {
            var html = await browser.GetStringAsync(path);
            Shown(html).ShouldBeEmpty(path);
            html.ShouldNotContain("team/svc", Case.Insensitive, path);
        }
    }
}
