using System.Net;
using System.Net.Http.Headers;
using Heaven.Cli;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Access;

/// <summary><c>heaven tokens</c>: create (the token once, on the last line), list (never the token), revoke.</summary>
public sealed class TokensCommandTests
{
    private static async Task<(int Exit, string Output, string Error)> RunAsync(TemporaryDirectory directory, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        // Operator commands work on an existing server's data directory.
        Directory.CreateDirectory(Path.Combine(directory.Path, "data"));
        var exit = await HeavenCli.RunAsync(
            [.. args, $"--DataDirectory={Path.Combine(directory.Path, "data")}", $"--Webhooks:Secret={HeavenTestHost.Secret}"],
            output,
            error);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Create_PrintsWhatTheTokenMayDoAndTheTokenLast_ListNeverShowsIt_RevokeEndsIt()
    {
        using var directory = new TemporaryDirectory();

        var (exit, output, error) = await RunAsync(directory, "tokens", "create", "ci-bot", "--scope", "deploy", "--expires-in-days", "30");
        var (_, second, _) = await RunAsync(directory, "tokens", "create", "dashboard", "--scope", "read");
        var (listExit, list, _) = await RunAsync(directory, "tokens", "list");

        exit.ShouldBe(0, error);
        var lines = output.TrimEnd('\n').Split('\n');
        var token = lines[^1];
        token.ShouldMatch("^heaven_[A-Za-z0-9_-]{43}$");
        output.ShouldContain("scope deploy: it may read, and deploy, cancel, lock and unlock on every repository.");
        output.ShouldContain("It expires at ");
        listExit.ShouldBe(0);
        list.ShouldNotContain(token);
        list.ShouldNotContain(second.TrimEnd('\n').Split('\n')[^1]);
        var rows = list.TrimEnd('\n').Split('\n');
        rows[0].ShouldStartWith("NAME");
        rows[0].ShouldContain("SCOPE");
        rows[0].ShouldContain("LAST USED");
        rows.Length.ShouldBe(3);
        rows[1].ShouldStartWith("ci-bot     deploy");
        rows[2].ShouldStartWith("dashboard  read  ");
        rows[2].ShouldContain("never");
        // The columns line up.
        rows[1].IndexOf("deploy", StringComparison.Ordinal).ShouldBe(rows[0].IndexOf("SCOPE", StringComparison.Ordinal));

        await using (var host = await HeavenTestHost.StartAsync(directory: directory))
        {
            var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            (await host.Client.SendAsync(request)).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        var (revokeExit, revoked, _) = await RunAsync(directory, "tokens", "revoke", "ci-bot");
        var (againExit, _, again) = await RunAsync(directory, "tokens", "revoke", "ci-bot");
        revokeExit.ShouldBe(0);
        revoked.ShouldContain("Revoked the API token 'ci-bot'");
        againExit.ShouldBe(1);
        again.ShouldContain("There is no API token named 'ci-bot'");
        await using (var host = await HeavenTestHost.StartAsync(directory: directory))
        {
            var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            (await host.Client.SendAsync(request)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }
    }

    [Theory]
    [InlineData("tokens")]
    [InlineData("tokens", "create", "ci")]
    [InlineData("tokens", "create", "ci", "--scope", "write")]
    [InlineData("tokens", "create", "ci", "--scope", "read", "--expires-in-days", "0")]
    [InlineData("tokens", "create", "ci", "--scope", "read", "--expires-in-days", "soon")]
    [InlineData("tokens", "create", "c i/x", "--scope", "read")]
    [InlineData("tokens", "create", "--scope", "read")]
    [InlineData("tokens", "revoke")]
    [InlineData("tokens", "list", "extra")]
    [InlineData("tokens", "rename", "ci")]
    public async Task BadArguments_PrintTheUsageOnStderr_AndExit2(params string[] args)
    {
        using var directory = new TemporaryDirectory();

        var (exit, output, error) = await RunAsync(directory, args);

        exit.ShouldBe(2);
        output.ShouldBeEmpty();
        error.ShouldContain("Usage: heaven tokens create NAME --scope read|deploy|admin");
    }

    [Fact]
    public async Task ANameTakenAlready_IsRefused()
    {
        using var directory = new TemporaryDirectory();
        (await RunAsync(directory, "tokens", "create", "ci", "--scope", "read")).Exit.ShouldBe(0);

        var (exit, output, error) = await RunAsync(directory, "tokens", "create", "ci", "--scope", "admin");

        exit.ShouldBe(1);
        output.ShouldNotContain("heaven_");
        error.ShouldContain("A token named 'ci' exists already");
    }
}
