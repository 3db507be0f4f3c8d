using System.Net;
using System.Text.Json;
using Heaven.Tests.Infrastructure;
using static Heaven.Tests.Access.AccessTestKit;

namespace Heaven.Tests.Access;

/// <summary>Signing in with GitHub, who may, and what an anonymous visitor gets.</summary>
public sealed class SignInTests
{
    public static TheoryData<string, string, FakeGitHubUser> AllowedBy => new()
    {
        { "Web:AllowedUsers:0", "OctoCat", new FakeGitHubUser("octocat", 1) },
        { "Web:AllowedOrganizations:0", "octo-org", new FakeGitHubUser("octocat", 1, ["other", "Octo-Org"]) },
        { "Web:AllowedTeams:0", "octo-org/deployers", new FakeGitHubUser("octocat", 1, Teams: [("octo-org", "readers", 5), ("Octo-Org", "Deployers", 6)]) },
        { "GitHub:TeamId", "4242", new FakeGitHubUser("octocat", 1, Teams: [("octo-org", "ops", 4242)]) },
        { "GitHub:Organization", "octo-org", new FakeGitHubUser("octocat", 1, ["octo-org"]) },
    };

    [Theory]
    [MemberData(nameof(AllowedBy))]
    public async Task AnAllowedUser_SignsIn_AndIsSentBackToTheLocalPageTheyAskedFor(string key, string value, FakeGitHubUser user)
    {
        await using var github = await FakeGitHub.StartAsync();
        github.OAuthUser = user;
        await using var host = await HeavenTestHost.StartAsync(SignInSettings(github, (key, value)));
        using var browser = Browser(host);

        var back = await SignInAsync(browser, "/deployments?page=2");

        back.StatusCode.ShouldBe(HttpStatusCode.Redirect, await back.Content.ReadAsStringAsync());
        back.Headers.Location!.OriginalString.ShouldBe("/deployments?page=2");
        var session = back.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("heaven_session=", StringComparison.Ordinal));
        session.ShouldContain("httponly");
        session.ShouldContain("samesite=lax");
        var home = await browser.GetAsync("/");
        home.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await home.Content.ReadAsStringAsync()).ShouldContain("<h1>Dashboard</h1>");
        // The user's token asked who they are; Heaven's own token was never used for that.
        github.RequestsTo("user").ShouldAllBe(r => r.Header("Authorization") != "Bearer ghp_heavensowntoken0123456789");
    }

    [Fact]
    public async Task AUserInNoAllowedList_IsRefusedWithAPlainPageSayingWhy()
    {
        await using var github = await FakeGitHub.StartAsync();
        github.OAuthUser = new FakeGitHubUser("mallory", 66, ["elsewhere"], [("elsewhere", "deployers", 7)]);
        await using var host = await HeavenTestHost.StartAsync(SignInSettings(github,
            ("Web:AllowedUsers:0", "octocat"), ("Web:AllowedOrganizations:0", "octo-org"), ("Web:AllowedTeams:0", "octo-org/deployers"), ("GitHub:TeamId", "4242")));
        using var browser = Browser(host);

        var back = await SignInAsync(browser);

        back.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        var page = await back.Content.ReadAsStringAsync();
        page.ShouldContain("mallory may not sign in to this Heaven");
        page.ShouldContain("Web:AllowedUsers");
        page.ShouldNotContain("Exception");
        back.Headers.TryGetValues("Set-Cookie", out var cookies);
        (cookies ?? []).ShouldNotContain(c => c.StartsWith("heaven_session=", StringComparison.Ordinal));
        (await browser.GetAsync("/")).StatusCode.ShouldBe(HttpStatusCode.Redirect);
    }

    [Fact]
    public async Task WithNoAllowList_NobodySignsIn_AndGitHubIsNotEvenAsked()
    {
        await using var github = await FakeGitHub.StartAsync();
        await using var host = await HeavenTestHost.StartAsync(SignInSettings(github));
        using var browser = Browser(host);

        var answer = await browser.GetAsync("/signin?returnUrl=/");

        answer.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await answer.Content.ReadAsStringAsync()).ShouldContain("Nobody may sign in to this Heaven yet");
        github.RequestsTo("oauth-authorize").ShouldBeEmpty();
    }

    [Fact]
    public async Task WithoutAnOAuthApp_SignInSaysItIsOff_AndEverythingElseStillWorks()
    {
        await using var host = await HeavenTestHost.StartAsync();
        using var browser = Browser(host);

        var signIn = await browser.GetAsync("/signin");

        signIn.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await signIn.Content.ReadAsStringAsync()).ShouldContain("GitHub:ClientId");
        (await browser.GetAsync("/healthz")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("https://evil.example/")]
    [InlineData("//evil.example/")]
    [InlineData("/\\evil.example/")]
    public async Task AReturnUrlOffThisServer_IsReplacedByTheHomePage(string returnUrl)
    {
        await using var github = await FakeGitHub.StartAsync();
        await using var host = await HeavenTestHost.StartAsync(SignInSettings(github, ("Web:AllowedUsers:0", "octocat")));
        using var browser = Browser(host);

        var back = await SignInAsync(browser, returnUrl);

        back.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        back.Headers.Location!.OriginalString.ShouldBe("/");
    }

    [Fact]
    public async Task AnAnonymousPageRequest_IsSentToSignIn_AndAnAnonymousApiRequestGets401ProblemJson()
    {
        await using var host = await HeavenTestHost.StartAsync();
        using var browser = Browser(host);

        var page = await browser.GetAsync("/deployments/7?tab=log");
        var api = await browser.GetAsync("/api/v1/deployments");

        page.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        page.Headers.Location!.PathAndQuery.ShouldBe("/signin?returnUrl=%2Fdeployments%2F7%3Ftab%3Dlog");
        api.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        api.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var problem = JsonDocument.Parse(await api.Content.ReadAsStringAsync()).RootElement;
        problem.GetProperty("title").GetString().ShouldBe("Authentication required");
        problem.GetProperty("detail").GetString()!.ShouldContain("Authorization: Bearer");
        (await api.Content.ReadAsStringAsync()).ShouldNotContain("<html");
    }

    [Fact]
    public async Task HealthWebhooksAndSignedLogLinks_StayOpenWithoutSignIn()
    {
        await using var host = await HeavenTestHost.StartAsync();
        using var browser = Browser(host);

        (await browser.GetAsync("/healthz")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await host.SendWebhookAsync("ping", Fixtures.Read("ping.json"))).StatusCode.ShouldBe(HttpStatusCode.OK);
        // A log link that does not verify is answered by the log page itself, not by the sign-in wall.
        (await browser.GetAsync("/deployments/1/log?expires=1&token=00")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await browser.GetAsync("/events")).StatusCode.ShouldBe(HttpStatusCode.MethodNotAllowed);
        (await browser.GetAsync("/deployments/1/log")).StatusCode.ShouldBe(HttpStatusCode.Redirect, "without its token it is no log link");
    }

    [Fact]
    public async Task EveryAnswer_CarriesTheSecurityHeaders()
    {
        await using var host = await HeavenTestHost.StartAsync();
        using var browser = Browser(host);

        foreach (var answer in new[] { await browser.GetAsync("/healthz"), await browser.GetAsync("/"), await browser.GetAsync("/api/v1/x") })
        {
            answer.Headers.GetValues("Content-Security-Policy").Single().ShouldBe(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https://avatars.githubusercontent.com; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
            answer.Headers.GetValues("X-Content-Type-Options").Single().ShouldBe("nosniff");
            answer.Headers.GetValues("X-Frame-Options").Single().ShouldBe("DENY");
            answer.Headers.GetValues("Referrer-Policy").Single().ShouldBe("same-origin");
        }
    }

    [Fact]
    public async Task SignOut_NeedsTheFormsAntiforgeryToken_AndEndsTheSession()
    {
        await using var github = await FakeGitHub.StartAsync();
        await using var host = await HeavenTestHost.StartAsync(SignInSettings(github, ("Web:AllowedUsers:0", "octocat")));
        using var browser = Browser(host);
        (await SignInAsync(browser)).StatusCode.ShouldBe(HttpStatusCode.Redirect);

        var forged = await browser.PostAsync("/signout", new FormUrlEncodedContent([]));
        (await browser.GetAsync("/")).StatusCode.ShouldBe(HttpStatusCode.OK, "a sign-out without the form's token changes nothing");
        var form = await (await browser.GetAsync("/signout")).Content.ReadAsStringAsync();
        var token = System.Text.RegularExpressions.Regex.Match(form, "name=\"([^\"]+)\" value=\"([^\"]+)\"");
        var signedOut = await browser.PostAsync("/signout", new FormUrlEncodedContent([new(token.Groups[1].Value, WebUtility.HtmlDecode(token.Groups[2].Value))]));

        forged.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        signedOut.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await signedOut.Content.ReadAsStringAsync()).ShouldContain("You are signed out");
        (await browser.GetAsync("/")).StatusCode.ShouldBe(HttpStatusCode.Redirect);
    }
}
