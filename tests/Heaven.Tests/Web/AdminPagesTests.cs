using System.Net;
using System.Text.RegularExpressions;
using Heaven.Access;
using Heaven.Tests.Access;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static Heaven.Tests.Web.AdminPagesSite;

namespace Heaven.Tests.Web;

/// <summary>
/// The operator pages over HTTP, as each kind of visitor sees them: anonymous, a reader and a deployer
/// of one repository, and an administrator. Every value from a webhook or a person is shown as text.
/// </summary>
public sealed class AdminPagesTests : IAsyncLifetime
{
    private AdminPagesSite site = null!;

    public async Task InitializeAsync() => site = await AdminPagesSite.StartAsync();

    public async Task DisposeAsync() => await site.DisposeAsync();

    [Fact]
    public async Task Anonymous_visitors_are_sent_to_sign_in_from_every_page_and_action()
    {
        using var browser = AccessTestKit.Browser(site.Host);

        foreach (var path in new[] { "/deliveries", $"/deliveries/{HostileDeliveryId}", "/outbox", "/outbox?problems=1", "/auto-deploy", "/locks", "/nodes", "/tokens" })
        {
            var answer = await browser.GetAsync(path);
            answer.StatusCode.ShouldBe(HttpStatusCode.Redirect, path);
            answer.Headers.Location!.PathAndQuery.ShouldBe("/signin?returnUrl=" + Uri.EscapeDataString(path), path);
        }

        foreach (var action in new[] { $"/deliveries/{HostileDeliveryId}/redeliver", "/locks/unlock", "/tokens", "/tokens/revoke" })
        {
            var answer = await browser.PostAsync(action, new FormUrlEncodedContent([new("repository", App), new("environment", "production"), new("name", "x"), new("scope", "admin")]));
            answer.StatusCode.ShouldBe(HttpStatusCode.Redirect, action);
            answer.Headers.Location!.AbsolutePath.ShouldBe("/signin", action);
        }

        (await site.IsLockedAsync(App)).ShouldBeTrue();
        (await site.Host.Services.GetRequiredService<ApiTokens>().ListAsync(CancellationToken.None)).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_reader_sees_auto_deploy_decisions_and_locks_of_their_repositories_only_and_may_not_unlock_or_use_admin_pages()
    {
        using var browser = await site.SignInAsync(Reader);

        foreach (var path in new[] { "/deliveries", $"/deliveries/{HostileDeliveryId}", "/outbox", "/tokens" })
        {
            var (status, page) = await GetAsync(browser, path);
            status.ShouldBe(HttpStatusCode.Forbidden, path);
            page.ShouldContain("Only Heaven's administrators may", customMessage: path);
            page.ShouldContain($"You are signed in as <strong>{Reader}</strong>", customMessage: path);
            page.ShouldNotContain(HostileDeliveryId + "</code>", customMessage: path);
        }

        var (decisionsStatus, decisions) = await GetAsync(browser, "/auto-deploy");
        decisionsStatus.ShouldBe(HttpStatusCode.OK);
        decisions.ShouldContain("CI is green &lt;script&gt;");
        decisions.ShouldNotContain(Secret);
        decisions.ShouldNotContain("secret decision");
        (await GetAsync(browser, "/auto-deploy?repository=octo/secret")).Page.ShouldContain("No auto-deploy decisions for octo/secret that you may read.");

        var (locksStatus, locks) = await GetAsync(browser, "/locks");
        locksStatus.ShouldBe(HttpStatusCode.OK);
        locks.ShouldContain($"<td class=\"repository\">{App}</td>");
        locks.ShouldContain($"<td class=\"locked-by\">{Deployer}</td>");
        locks.ShouldNotContain(SecretReason);
        locks.ShouldNotContain(">Unlock</button>", customMessage: "a reader may not unlock");

        var (nodesStatus, nodes) = await GetAsync(browser, "/nodes");
        nodesStatus.ShouldBe(HttpStatusCode.OK, "a reader may see the nodes");
        nodes.ShouldContain($"<td class=\"node-id\">{site.Host.Services.GetRequiredService<Heaven.Configuration.NodeIdentity>().Id} <span class=\"badge\">this node</span></td>");
        nodes.ShouldContain("<span class=\"badge node-state-running\">running</span>");

        var unlock = await PostFormAsync(browser, "/locks", "/locks/unlock", ("repository", App), ("environment", "production"));
        unlock.Status.ShouldBe(HttpStatusCode.Forbidden);
        unlock.Page.ShouldContain($"You may read {App} but not deploy it, so you may not unlock production.");
        (await site.IsLockedAsync(App)).ShouldBeTrue();

        // The token form is on no page a reader gets; a form posted from another page is still refused.
        var created = await PostFormAsync(browser, "/locks", "/tokens", ("name", "sneaky"), ("scope", "admin"));
        created.Status.ShouldBe(HttpStatusCode.Forbidden);
        (await site.Host.Services.GetRequiredService<ApiTokens>().ListAsync(CancellationToken.None)).ShouldBeEmpty();
        var redeliver = await PostFormAsync(browser, "/locks", $"/deliveries/{HostileDeliveryId}/redeliver");
        redeliver.Status.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_deployer_unlocks_their_repository_with_the_pages_form_but_not_one_they_cannot_see_nor_without_the_form_token()
    {
        using var browser = await site.SignInAsync(Deployer);
        var (_, locks) = await GetAsync(browser, "/locks");
        locks.ShouldContain(">Unlock</button>");
        locks.ShouldContain($"data-confirm=\"Unlock production of {App} (locked by {Deployer})?\"");
        (await GetAsync(browser, "/deliveries")).Status.ShouldBe(HttpStatusCode.Forbidden);

        var forged = await browser.PostAsync("/locks/unlock", new FormUrlEncodedContent([new("repository", App), new("environment", "production")]));
        forged.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await forged.Content.ReadAsStringAsync()).ShouldContain("anti-forgery token missing or wrong");
        (await site.IsLockedAsync(App)).ShouldBeTrue();

        var secret = await PostFormAsync(browser, "/locks", "/locks/unlock", ("repository", Secret), ("environment", "production"));
        secret.Status.ShouldBe(HttpStatusCode.Forbidden);
        secret.Page.ShouldContain($"You may not unlock environments of {Secret}.");
        secret.Page.ShouldNotContain(SecretReason);
        (await site.IsLockedAsync(Secret)).ShouldBeTrue();

        var unlocked = await PostFormAsync(browser, "/locks", "/locks/unlock", ("repository", App), ("environment", "production"));
        unlocked.Status.ShouldBe(HttpStatusCode.OK, unlocked.Page);
        unlocked.Page.ShouldContain($"{App} unlocked on production (it was locked by {Deployer}).");
        unlocked.Page.ShouldContain("No environment of a repository you may read is locked.");
        (await site.IsLockedAsync(App)).ShouldBeFalse();
    }

    [Fact]
    public async Task An_admin_sees_deliveries_with_the_encoded_body_and_redelivers_one_seeing_what_the_intake_answered()
    {
        const string pingId = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
        using (var request = Webhook.Request("ping", Fixtures.Read("ping.json"), pingId, HeavenTestHost.Secret))
        {
            request.Headers.Add("X-GitHub-Hook-ID", "4242");
            request.Headers.Add("X-GitHub-Hook-Installation-Target-Type", "repository");
            request.Headers.Add("X-Relay-Token", "relay-secret-value");
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", "relay-secret-value");
            (await site.Host.Client.SendAsync(request)).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        using var browser = await site.SignInAsync(Admin);

        var (listStatus, list) = await GetAsync(browser, "/deliveries");
        listStatus.ShouldBe(HttpStatusCode.OK);
        list.ShouldContain($"<a href=\"/deliveries/{HostileDeliveryId}\"><code>{HostileDeliveryId}</code></a>");
        list.ShouldContain($"<a href=\"/deliveries/{pingId}\">");
        list.ShouldContain("pong &lt;script&gt;window.__xss = 1&lt;/script&gt;");
        list.ShouldNotContain(HostileScript);

        var (pingStatus, ping) = await GetAsync(browser, $"/deliveries/{pingId}");
        pingStatus.ShouldBe(HttpStatusCode.OK);
        ping.ShouldContain("<dt>X-GitHub-Hook-ID</dt><dd><code>4242</code></dd>");
        ping.ShouldContain("<dt>User-Agent</dt><dd><code>GitHub-Hookshot/test</code></dd>");
        ping.ShouldContain("<dt>X-GitHub-Hook-Installation-Target-Type</dt><dd><code>repository</code></dd>");
        ping.ShouldNotContain("X-Hub-Signature", customMessage: "signatures are checked, not stored");
        ping.ShouldNotContain("Authorization");
        ping.ShouldNotContain("X-Relay-Token");
        ping.ShouldNotContain("relay-secret-value");

        var (detailStatus, detail) = await GetAsync(browser, $"/deliveries/{HostileDeliveryId}");
        detailStatus.ShouldBe(HttpStatusCode.OK);
        detail.ShouldContain("<dt>X-GitHub-Event</dt><dd><code>ping</code></dd>");
        detail.ShouldContain("&quot;zen&quot;: &quot;&lt;script&gt;window.__xss = 1&lt;/script&gt;&quot;", customMessage: "the body is shown encoded");
        var shownBody = WebUtility.HtmlDecode(Regex.Match(detail, "<pre class=\"delivery-body\"><code>(.*?)</code></pre>", RegexOptions.Singleline).Groups[1].Value);
        shownBody.ShouldStartWith("{\n  \"zen\": \"" + HostileScript + "\",", customMessage: "the body reads as indented JSON");
        detail.ShouldContain("&lt;img src=x onerror=\\&quot;window.__xss = 2\\&quot;&gt;");
        detail.ShouldNotContain(HostileScript);
        detail.ShouldNotContain("<img src=x");
        detail.ShouldContain("data-confirm=\"Run delivery");

        var redelivered = await PostFormAsync(browser, $"/deliveries/{pingId}", $"/deliveries/{pingId}/redeliver");
        redelivered.Status.ShouldBe(HttpStatusCode.OK, redelivered.Page);
        var answered = Regex.Match(redelivered.Page, "Redelivered as <a href=\"/deliveries/([0-9a-f-]{36})\">.*The intake answered: <strong>([a-z]+)</strong>");
        answered.Success.ShouldBeTrue(redelivered.Page);
        var (copyStatus, copy) = await GetAsync(browser, $"/deliveries/{answered.Groups[1].Value}");
        copyStatus.ShouldBe(HttpStatusCode.OK);
        copy.ShouldContain($"<dt>Redelivery of</dt><dd><a href=\"/deliveries/{pingId}\">");
        copy.ShouldContain("<dt>X-GitHub-Hook-ID</dt><dd><code>4242</code></dd>", customMessage: "a redelivery carries the original's headers");
        copy.ShouldContain("<dt>User-Agent</dt><dd><code>GitHub-Hookshot/test</code></dd>");

        var admin = ApiClient.For(site.Host, TokenScope.Admin);
        var viaApi = System.Text.Json.JsonDocument.Parse(await (await admin.GetAsync($"/deliveries/{pingId}")).Content.ReadAsStringAsync()).RootElement;
        var headers = viaApi.GetProperty("headers");
        headers.GetProperty("X-GitHub-Hook-ID").GetString().ShouldBe("4242");
        headers.GetProperty("User-Agent").GetString().ShouldBe("GitHub-Hookshot/test");
        headers.EnumerateObject().Select(h => h.Name).ShouldNotContain(n => n.Contains("Signature", StringComparison.OrdinalIgnoreCase) || n == "Authorization" || n == "X-Relay-Token");

        (await GetAsync(browser, "/deliveries/no-such-delivery")).Status.ShouldBe(HttpStatusCode.NotFound);
        var forged = await browser.PostAsync($"/deliveries/{pingId}/redeliver", new FormUrlEncodedContent([]));
        forged.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task An_admin_sees_the_outbox_with_a_problems_filter_and_every_repositorys_decisions_and_locks()
    {
        using var browser = await site.SignInAsync(Admin);

        var (_, outbox) = await GetAsync(browser, "/outbox");
        outbox.ShouldContain("<td class=\"state state-failed\">failed</td>");
        outbox.ShouldContain("<td class=\"state state-done\">done</td>");
        outbox.ShouldContain("GitHub answered 422: &lt;b&gt;bad&lt;/b&gt;");
        outbox.ShouldContain("deployment <a href=\"/deployments/7\">7</a>");
        var (_, problems) = await GetAsync(browser, "/outbox?problems=1");
        problems.ShouldContain("Showing problems only");
        problems.ShouldContain("state-failed");
        problems.ShouldNotContain("state-done");

        var (_, decisions) = await GetAsync(browser, "/auto-deploy");
        decisions.ShouldContain("secret decision");
        decisions.ShouldContain("CI is green");
        var (_, filtered) = await GetAsync(browser, "/auto-deploy?repository=OCTO/secret");
        filtered.ShouldContain("secret decision");
        filtered.ShouldNotContain("CI is green");

        var (_, locks) = await GetAsync(browser, "/locks");
        locks.ShouldContain(SecretReason);
        Regex.Matches(locks, ">Unlock</button>").Count.ShouldBe(2);
    }

    [Fact]
    public async Task An_admin_creates_a_token_seen_once_lists_it_without_its_text_and_revokes_it()
    {
        using var browser = await site.SignInAsync(Admin);
        var (formStatus, form) = await GetAsync(browser, "/tokens");
        formStatus.ShouldBe(HttpStatusCode.OK);
        form.ShouldContain("No API tokens yet.");
        form.ShouldContain("<option value=\"deploy\">deploy: read, and deploy, cancel, lock and unlock on every repository</option>");

        var created = await PostFormAsync(browser, "/tokens", "/tokens", ("name", "ci-bot"), ("scope", "deploy"), ("expiresInDays", "30"));

        created.Status.ShouldBe(HttpStatusCode.OK, created.Page);
        created.Page.ShouldContain("Copy it now");
        var text = Regex.Match(created.Page, "value=\"(heaven_[A-Za-z0-9_-]+)\"").Groups[1].Value;
        text.ShouldNotBeEmpty();
        var tokens = site.Host.Services.GetRequiredService<ApiTokens>();
        var token = (await tokens.AuthenticateAsync(text, CancellationToken.None)).ShouldNotBeNull();
        token.Scope.ShouldBe(TokenScope.Deploy);
        token.CreatedBy.ShouldBe(Admin);
        token.ExpiresAt.ShouldNotBeNull();

        var (_, list) = await GetAsync(browser, "/tokens");
        list.ShouldContain("<td class=\"token-name\">ci-bot</td>");
        list.ShouldContain("<td class=\"scope\">deploy</td>");
        list.ShouldContain("data-confirm=\"Revoke token ci-bot?");
        list.ShouldNotContain(text, customMessage: "a token's text is shown once only");

        var duplicate = await PostFormAsync(browser, "/tokens", "/tokens", ("name", "ci-bot"), ("scope", "read"));
        duplicate.Status.ShouldBe(HttpStatusCode.BadRequest);
        duplicate.Page.ShouldContain("A token named &#x27;ci-bot&#x27; exists already");
        var badExpiry = await PostFormAsync(browser, "/tokens", "/tokens", ("name", "other"), ("scope", "read"), ("expiresInDays", "-1"));
        badExpiry.Status.ShouldBe(HttpStatusCode.BadRequest);
        badExpiry.Page.ShouldContain("The expiry is a number of days");

        var revoked = await PostFormAsync(browser, "/tokens", "/tokens/revoke", ("name", "ci-bot"));
        revoked.Status.ShouldBe(HttpStatusCode.OK);
        revoked.Page.ShouldContain("Token ci-bot is revoked; it no longer works.");
        revoked.Page.ShouldContain("No API tokens yet.");
        (await tokens.AuthenticateAsync(text, CancellationToken.None)).ShouldBeNull();
    }
}
