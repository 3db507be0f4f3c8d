using System.Net;
using Heaven.Tests.Infrastructure;
using Heaven.Web;

namespace Heaven.Tests.Web;

public sealed class StaticAssetTests
{
    [Fact]
    public async Task Heaven_serves_its_assets_to_anyone_under_names_browsers_may_keep_for_a_year()
    {
        await using var host = await HeavenTestHost.StartAsync();
        foreach (var (name, contentType) in new[] { ("heaven.css", "text/css"), ("heaven.js", "text/javascript"), ("heaven.svg", "image/svg+xml") })
        {
            var url = StaticAssets.Embedded.Url(name);
            url.ShouldMatch($"^/static/{name.Split('.')[0]}\\.[0-9a-f]{{12}}\\.{name.Split('.')[1]}$");

            using var response = await host.Client.GetAsync(url);
            response.StatusCode.ShouldBe(HttpStatusCode.OK, url);
            response.Content.Headers.ContentType!.MediaType.ShouldBe(contentType);
            response.Headers.CacheControl!.ToString().ShouldBe("public, max-age=31536000, immutable");
            response.Headers.GetValues("X-Content-Type-Options").ShouldBe(["nosniff"]);
            (await response.Content.ReadAsByteArrayAsync()).Length.ShouldBeGreaterThan(100);

            using var plain = await host.Client.GetAsync($"/static/{name}");
            plain.StatusCode.ShouldBe(HttpStatusCode.OK);
            plain.Headers.CacheControl!.NoCache.ShouldBeTrue("the unversioned name may change with the next Heaven");
        }

        using var stale = await host.Client.GetAsync("/static/heaven.000000000000.css");
        stale.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using var other = await host.Client.GetAsync("/static/..%2Fappsettings.json");
        other.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public void The_layout_links_the_versioned_assets_and_runs_no_inline_script_or_style()
    {
        var page = PageLayout.Render("Locks", PageSection.Locks, new PageChrome(new SignedInUser("octocat")), Html.Of($"<p>{"none"}</p>")).ToString();

        page.ShouldContain($"<link rel=\"stylesheet\" href=\"{StaticAssets.Embedded.Url("heaven.css")}\">");
        page.ShouldContain($"<script src=\"{StaticAssets.Embedded.Url("heaven.js")}\" defer></script>");
        page.ShouldContain("<a href=\"/locks\" aria-current=\"page\">Locks</a>");
        page.ShouldContain("<form method=\"post\" action=\"/sign-out\">");
        page.ShouldNotContain("style=");
        page.ShouldNotContain("<style");
        page.Split("<script").Length.ShouldBe(2, "one script element: heaven.js");
    }
}
