using System.Text;
using Heaven.Checkout;

namespace Heaven.Tests.Checkout;

/// <summary>The token reaches git's server as a header through git's environment, and nowhere else.</summary>
public sealed class CheckoutCredentialTests : IDisposable
{
    private const string Token = "ghs_T0kenThatMustNeverBeWritten1234567";

    private static readonly string Basic = Convert.ToBase64String(Encoding.UTF8.GetBytes("x-access-token:" + Token));

    private readonly CheckoutBench bench = new();
    private readonly string served;

    public CheckoutCredentialTests()
    {
        served = Path.Combine(bench.Root, "served");
        Http = SourceRepository.Create(bench.Root, Path.Combine(served, "atmos", "my-robot.git"));
    }

    private SourceRepository Http { get; }

    public void Dispose() => bench.Dispose();

    [Fact]
    public async Task OverHttp_TheTokenReachesGitHubsServerAsAHeaderAndIsWrittenNowhere()
    {
        await using var server = await DumbGitServer.StartAsync(served, requiredAuthorization: "Basic " + Basic);
        var sha = Http.Commit("first", ("app.txt", "private"));
        var cloneUrl = new Uri(server.BaseAddress, "atmos/my-robot.git").ToString();
        var checkout = bench.Checkout(git: bench.WrapperGit(), token: Token, webUrl: server.BaseAddress.ToString());
        var sink = new RecordingSink();

        await using var worktree = await checkout.PrepareAsync(bench.Request(sha, cloneUrl: cloneUrl), sink, CancellationToken.None);

        File.ReadAllText(Path.Combine(worktree.Path, "app.txt")).ShouldBe("private");
        server.Authorizations.ShouldNotBeEmpty();
        server.Authorizations.ShouldAllBe(a => a == "Basic " + Basic);

        var calls = bench.ReadCallLog();
        calls.ShouldContain(" fetch --upload-pack=git-upload-pack --prune --no-tags origin +refs/heads/*:refs/heads/* +refs/tags/*:refs/tags/*");
        calls.ShouldContain("GIT_CONFIG_COUNT");
        calls.ShouldContain("GIT_TERMINAL_PROMPT");
        calls.ShouldContain("GIT_ASKPASS");
        calls.ShouldContain("GCM_INTERACTIVE");
        AssertNoSecretIn(calls, "git's arguments");

        foreach (var file in Directory.EnumerateFiles(bench.DataPath, "*", SearchOption.AllDirectories))
        {
            AssertNoSecretIn(Encoding.Latin1.GetString(File.ReadAllBytes(file)), file);
        }

        var config = File.ReadAllText(Path.Combine(bench.MirrorPath, "config"));
        config.ShouldContain($"url = {cloneUrl}");
        config.ShouldNotContain("extraheader", Case.Insensitive);
        config.ShouldNotContain("helper");
        AssertNoSecretIn(string.Join('\n', sink.Text), "the deploy log");
        AssertNoSecretIn(string.Join('\n', bench.Logger.Messages), "Heaven's log");
    }

    [Fact]
    public async Task ACloneUrlOnAnotherAllowedServer_IsFetchedWithoutTheToken()
    {
        await using var server = await DumbGitServer.StartAsync(served);
        var sha = Http.Commit("first", ("app.txt", "public"));
        var cloneUrl = new Uri(server.BaseAddress, "atmos/my-robot.git").ToString();
        var checkout = bench.Checkout(git: bench.WrapperGit(), token: Token, webUrl: "https://github.com/", cloneHosts: ["127.0.0.1"]);

        await using var worktree = await checkout.PrepareAsync(bench.Request(sha, cloneUrl: cloneUrl), new RecordingSink(), CancellationToken.None);

        File.ReadAllText(Path.Combine(worktree.Path, "app.txt")).ShouldBe("public");
        server.Authorizations.ShouldNotBeEmpty();
        server.Authorizations.ShouldAllBe(a => a == "");
        bench.ReadCallLog().ShouldNotContain("extraheader", Case.Insensitive);
    }

    [Fact]
    public async Task ASameHostOnAnotherPort_DoesNotGetTheToken()
    {
        await using var github = await DumbGitServer.StartAsync(served);
        await using var other = await DumbGitServer.StartAsync(served);
        var sha = Http.Commit("first", ("app.txt", "public"));
        var checkout = bench.Checkout(token: Token, webUrl: github.BaseAddress.ToString());

        await using var worktree = await checkout.PrepareAsync(
            bench.Request(sha, cloneUrl: new Uri(other.BaseAddress, "atmos/my-robot.git").ToString()), new RecordingSink(), CancellationToken.None);

        other.Authorizations.ShouldNotBeEmpty();
        other.Authorizations.ShouldAllBe(a => a == "");
    }

    [Fact]
    public async Task ARefusedToken_FailsAtOnceWithoutPromptingOrQuotingIt()
    {
        await using var server = await DumbGitServer.StartAsync(served, requiredAuthorization: "Basic another");
        var sha = Http.Commit("first", ("app.txt", "private"));
        var cloneUrl = new Uri(server.BaseAddress, "atmos/my-robot.git").ToString();
        var sink = new RecordingSink();

        var error = await Should.ThrowAsync<CheckoutException>(() =>
            bench.Checkout(token: Token, webUrl: server.BaseAddress.ToString()).PrepareAsync(bench.Request(sha, cloneUrl: cloneUrl), sink, CancellationToken.None));

        error.Message.ShouldStartWith("fetching atmos/my-robot failed: ");
        error.Message.ShouldContain("Authentication failed");
        AssertNoSecretIn(error.Message, "the error");
        AssertNoSecretIn(string.Join('\n', sink.Text), "the deploy log");
    }

    [Fact]
    public async Task WhenGitQuotesTheToken_ItIsMaskedEverywhere()
    {
        // A git that, failing, prints everything it was configured with, the header included.
        var git = bench.WrapperGit("""
            if [[ " $* " == *" fetch "* ]]; then
              for name in $(compgen -e | grep '^GIT_CONFIG_VALUE_'); do [[ "${!name}" == Authorization:* ]] && header="${!name}"; done
              echo "fatal: sent '$header' to https://x-access-token:GIT_CONFIG_LEAK@example.com/" >&2
              for name in $(compgen -e | grep '^GIT_CONFIG_VALUE_'); do echo "${!name}" >&2; done
              echo "error: raw $(echo "${header#Authorization: Basic }" | base64 -d)" >&2
              exit 128
            fi
            """);
        await using var server = await DumbGitServer.StartAsync(served);
        var sha = Http.Commit("first", ("app.txt", "private"));
        var cloneUrl = new Uri(server.BaseAddress, "atmos/my-robot.git").ToString();
        var sink = new RecordingSink();

        var error = await Should.ThrowAsync<CheckoutException>(() =>
            bench.Checkout(git: git, token: Token, webUrl: server.BaseAddress.ToString()).PrepareAsync(bench.Request(sha, cloneUrl: cloneUrl), sink, CancellationToken.None));

        error.Message.ShouldBe("fetching atmos/my-robot failed: sent 'Authorization: Basic ***' to https://example.com/");
        AssertNoSecretIn(error.Message, "the error");
        var log = string.Join('\n', sink.Text);
        log.ShouldContain("error: raw x-access-token:***");
        AssertNoSecretIn(log, "the deploy log");
        AssertNoSecretIn(string.Join('\n', bench.Logger.Messages), "Heaven's log");
    }

    [Fact]
    public async Task WithoutAToken_NoCredentialIsConfigured()
    {
        var sha = bench.Source.Commit("first", ("app.txt", "version 1"));

        await using var worktree = await bench.Checkout(git: bench.WrapperGit()).PrepareAsync(bench.Request(sha), new RecordingSink(), CancellationToken.None);

        var calls = bench.ReadCallLog();
        calls.ShouldContain("config: core.hooksPath");
        calls.ShouldNotContain("extraheader", Case.Insensitive);
    }

    private static void AssertNoSecretIn(string text, string where)
    {
        text.ShouldNotContain(Token, customMessage: $"the token is in {where}");
        text.ShouldNotContain(Basic, customMessage: $"the encoded token is in {where}");
    }
}
