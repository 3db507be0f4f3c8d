using System.Net;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Access;

/// <summary>A Heaven with sign-in through a fake GitHub, and a browser (cookies kept, redirects not followed).</summary>
internal static class AccessTestKit
{
    public static Dictionary<string, string?> SignInSettings(FakeGitHub github, params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string?>
        {
            ["GitHub:ApiUrl"] = github.RestBase.ToString(),
            ["GitHub:WebUrl"] = github.Root + "/",
            ["GitHub:ClientId"] = FakeGitHub.OAuthClientId,
            ["GitHub:ClientSecret"] = FakeGitHub.OAuthClientSecret,
            ["GitHub:Token"] = "ghp_heavensowntoken0123456789",
        };
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return settings;
    }

    public static HttpClient Browser(HeavenTestHost host) =>
        new(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer(), UseCookies = true })
        {
            BaseAddress = host.BaseAddress,
            Timeout = TimeSpan.FromSeconds(30),
        };

    /// <summary>Follows the sign-in from <c>/signin</c> through GitHub and back; returns Heaven's answer to the callback.</summary>
    public static async Task<HttpResponseMessage> SignInAsync(HttpClient browser, string returnUrl = "/")
    {
        var start = await browser.GetAsync("/signin?returnUrl=" + Uri.EscapeDataString(returnUrl));
        start.StatusCode.ShouldBe(HttpStatusCode.Redirect, await start.Content.ReadAsStringAsync());
        var atGitHub = await browser.GetAsync(start.Headers.Location);
        atGitHub.StatusCode.ShouldBe(HttpStatusCode.Redirect, "the fake GitHub's authorize page sends the browser back");
        return await browser.GetAsync(atGitHub.Headers.Location);
    }
}
