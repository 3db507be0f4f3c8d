using System.Text.Json.Nodes;
using Heaven.Model;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Providers;

/// <summary>
/// The dpl provider end to end with a fake <c>dpl</c> that records the arguments it was given, where it
/// ran, and its environment, then prints what a deploy tool might (a secret included, to prove masking).
/// </summary>
public sealed class DplProviderTests : IAsyncLifetime
{
    private const string HerokuKey = "HRKU-dpl0123456789abcdefABCDEF012345678";
    private const string S3Secret = "s3SECRETs3secretS3SECRETs3secret0123456";
    private const string PagesToken = "ghp_pagesTOKEN0123456789abcdefABCDEF0123";

    private readonly TestRepository repository = new("atmos/my-robot");
    private readonly TemporaryDirectory tools = new();
    private DeployHarness harness = null!;

    private string Record => Path.Combine(tools.Path, "record");

    public async Task InitializeAsync()
    {
        var dpl = Path.Combine(tools.Path, "dpl");
        File.WriteAllText(dpl, $$"""
            #!/usr/bin/env bash
            {
              for argument in "$@"; do printf 'ARG %s\n' "$argument"; done
              printf 'PWD %s\n' "$PWD"
              env | sort | sed 's/^/ENV /'
              [ -n "$GEMRC" ] && sed 's/^/GEMRC /' "$GEMRC"
            } > '{{Record}}'
            echo "dpl: deploying $(cat VERSION) with key ${HEROKU_API_KEY:-none} / ${AWS_SECRET_ACCESS_KEY:-none}"
            echo "dpl: a warning" >&2
            [ -f '{{tools.Path}}/exit-code' ] && exit "$(cat '{{tools.Path}}/exit-code')"
            exit 0
            """);
        File.SetUnixFileMode(dpl, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        harness = await DeployHarness.StartAsync(new Dictionary<string, string?>
        {
            ["Providers:Dpl:Command"] = dpl,
            ["Providers:Heroku:ApiKey"] = HerokuKey,
            ["Providers:Dpl:Secrets:s3:AWS_ACCESS_KEY_ID"] = "AKIADPLTEST000000001",
            ["Providers:Dpl:Secrets:s3:AWS_SECRET_ACCESS_KEY"] = S3Secret,
            ["Providers:Dpl:Secrets:pages:GITHUB_TOKEN"] = PagesToken,
        });
    }

    public async Task DisposeAsync()
    {
        await harness.DisposeAsync();
        repository.Dispose();
        tools.Dispose();
    }

    [Fact]
    public async Task Dpl_GetsTheProviderAndOptionsAsArguments_AndOnlyThatProvidersSecrets_InItsEnvironment()
    {
        var (sha, version) = Commit();
        Commit();
        var config = new JsonObject
        {
            ["provider"] = "dpl",
            ["dpl_provider"] = "s3",
            ["dpl_options"] = new JsonObject
            {
                ["bucket"] = "my-robot-site",
                ["region"] = "eu-west-1",
                ["local-dir"] = "public site",
                ["skip_cleanup"] = true,
                ["detect_encoding"] = false,
                ["max_threads"] = 4,
                ["cache_control"] = new JsonArray("max-age=60", "public"),
            },
        };

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: config);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("success");
        Arguments().ShouldBe(
        [
            "--provider=s3", "--bucket=my-robot-site", "--region=eu-west-1", "--local-dir=public site", "--skip_cleanup",
            "--max_threads=4", "--cache_control=max-age=60", "--cache_control=public",
        ]);
        var environment = Environment();
        environment["AWS_SECRET_ACCESS_KEY"].ShouldBe(S3Secret);
        environment["AWS_ACCESS_KEY_ID"].ShouldBe("AKIADPLTEST000000001");
        environment.ShouldNotContainKey("GITHUB_TOKEN");
        environment.ShouldNotContainKey("HEROKU_API_KEY");
        environment["DEPLOY_ENV"].ShouldBe("production");
        environment["SHA"].ShouldBe(sha[..8]);
        File.ReadAllLines(Record).Where(l => l.StartsWith("ARG ", StringComparison.Ordinal)).ShouldAllBe(l => !l.Contains(S3Secret));
        // It ran in the checkout of the deployed commit, not the branch head.
        var log = await harness.LogAsync(heavenId);
        log.ShouldContain($"dpl: deploying {version} with key none / ***");
        log.ShouldContain("dpl: a warning");
        log.ShouldContain("Running dpl --provider=s3 --bucket=my-robot-site --region=eu-west-1 '--local-dir=public site' --skip_cleanup");
        log.ShouldContain("(secrets in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)");
        log.ShouldNotContain(S3Secret);
    }

    [Fact]
    public async Task TheOriginalsPayload_DeploysTheHerokuApp_WithTheHerokuKeyInTheEnvironment()
    {
        var (sha, version) = Commit();

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, environment: "staging", config: new JsonObject { ["provider"] = "dpl", ["heroku_staging_name"] = "my-robot-staging" });
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("success");
        Arguments().ShouldBe(["--provider=heroku", "--app=my-robot-staging"]);
        var environment = Environment();
        environment["HEROKU_API_KEY"].ShouldBe(HerokuKey);
        environment.ShouldNotContainKey("AWS_SECRET_ACCESS_KEY");
        (await harness.LogAsync(heavenId)).ShouldContain($"dpl: deploying {version} with key *** / none");
    }

    [Fact]
    public async Task AFailingDpl_IsAFailure_WithItsExitStatus()
    {
        File.WriteAllText(Path.Combine(tools.Path, "exit-code"), "3");
        var (sha, _) = Commit();

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: new JsonObject { ["provider"] = "dpl", ["dpl_provider"] = "pages", ["dpl_options"] = new JsonObject { ["local_dir"] = "build" } });
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("failure", "dpl exited with status 3"));
        (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Failed);
        Environment()["GITHUB_TOKEN"].ShouldBe(PagesToken);
    }

    [Theory]
    [InlineData("""{"dpl_provider":"heroku --app=evil"}""", "payload.config.dpl_provider 'heroku --app=evil' is not a dpl provider name")]
    [InlineData("""{"dpl_provider":"../../bin/sh"}""", "payload.config.dpl_provider '../../bin/sh' is not a dpl provider name")]
    [InlineData("""{}""", "payload.config.dpl_provider is not set")]
    [InlineData("""{"dpl_provider":"s3","dpl_options":"--bucket=x"}""", "payload.config.dpl_options must be an object")]
    [InlineData("""{"dpl_provider":"s3","dpl_options":{"Bucket":"x"}}""", "payload.config.dpl_options.Bucket: option names are lower-case letters")]
    [InlineData("""{"dpl_provider":"s3","dpl_options":{"bucket x":"y"}}""", "payload.config.dpl_options.bucket x: option names are lower-case letters")]
    [InlineData("""{"dpl_provider":"s3","dpl_options":{"a=b":"y"}}""", "payload.config.dpl_options.a=b: option names are lower-case letters")]
    [InlineData("""{"dpl_provider":"s3","dpl_options":{"-x":"y"}}""", "payload.config.dpl_options.-x: option names are lower-case letters")]
    [InlineData("""{"dpl_provider":"s3","dpl_options":{"provider":"script"}}""", "payload.config.dpl_options.provider: the provider is payload.config.dpl_provider")]
    [InlineData("""{"dpl_provider":"s3","dpl_options":{"bucket":"-rf"}}""", "payload.config.dpl_options.bucket: a value may not start with '-'")]
    [InlineData("""{"dpl_provider":"s3","dpl_options":{"bucket":"--provider=script"}}""", "payload.config.dpl_options.bucket: a value may not start with '-'")]
    [InlineData("""{"dpl_provider":"s3","dpl_options":{"bucket":"a\nb"}}""", "payload.config.dpl_options.bucket: a value may not start with '-' or contain control characters")]
    [InlineData("""{"dpl_provider":"s3","dpl_options":{"bucket":{"nested":1}}}""", "payload.config.dpl_options.bucket must be a string, a number, true, false or a list of those")]
    [InlineData("""{"dpl_provider":"s3","dpl_options":{"bucket":null}}""", "payload.config.dpl_options.bucket must be a string")]
    [InlineData("""{"dpl_provider":"heroku","dpl_options":{"api_key":"HRKU-123"}}""", "payload.config.dpl_options.api_key looks like a secret: set it on the server (Providers:Dpl:Secrets:heroku:<VARIABLE>)")]
    [InlineData("""{"dpl_provider":"pages","dpl_options":{"github-token":"x"}}""", "payload.config.dpl_options.github-token looks like a secret")]
    [InlineData("""{"dpl_provider":"s3","dpl_options":{"secret_access_key":"x"}}""", "payload.config.dpl_options.secret_access_key looks like a secret")]
    public async Task HostileOrMisshapenPayloads_AreRefused_AndDplNeverRuns(string json, string expected)
    {
        var (sha, _) = Commit();
        var config = (JsonObject)JsonNode.Parse(json)!;
        config["provider"] = "dpl";

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, config: config);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("error");
        final.Description!.ShouldStartWith(expected);
        File.Exists(Record).ShouldBeFalse();
    }

    [Fact]
    public async Task WithoutDplInstalled_EndsErrored_SayingHowToGetIt()
    {
        await using var bare = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Providers:Dpl:Command"] = Path.Combine(tools.Path, "no-dpl-here") });
        var (sha, _) = Commit();

        var (gitHubId, heavenId) = await bare.DeployAsync(repository, sha, config: new JsonObject { ["provider"] = "dpl", ["dpl_provider"] = "s3" });
        var final = await bare.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "cannot start no-dpl-here: install dpl (gem install dpl) or set Providers:Dpl:Command"));
        (await bare.LogAsync(heavenId)).ShouldContain($"Cannot start {Path.Combine(tools.Path, "no-dpl-here")}: no such file.");
    }

    [Fact]
    public async Task TheRepositorysOwnDplTarget_Deploys_AndAnotherTargetOrProvider_IsRefusedBeforeDplRuns()
    {
        await using var listed = await StartAsync(new()
        {
            ["Repositories:atmos/my-robot:Dpl:Providers"] = "s3",
            ["Repositories:atmos/my-robot:Dpl:Targets:s3:0"] = "my-robot-site",
        });
        var (sha, _) = Commit();

        var (otherBucket, otherBucketId) = await listed.DeployAsync(repository, sha, config: Dpl("s3", ("bucket", "b-site")));
        var refused = await listed.WaitForFinalStatusAsync(repository, otherBucket);
        (refused.State, refused.Description).ShouldBe(("error", "dpl s3 bucket 'b-site' is not allowed for atmos/my-robot: add it to Repositories:atmos/my-robot:Dpl:Targets:s3"));
        (await listed.LogAsync(otherBucketId)).ShouldContain("(allowed: my-robot-site).");
        var (otherProvider, _) = await listed.DeployAsync(repository, sha, environment: "staging", config: Dpl("pages", ("repo", "atmos/my-robot")));
        (await listed.WaitForFinalStatusAsync(repository, otherProvider)).Description.ShouldBe("dpl provider 'pages' is not allowed for atmos/my-robot: add it to Repositories:atmos/my-robot:Dpl:Providers");
        var (noTarget, _) = await listed.DeployAsync(repository, sha, environment: "qa", config: Dpl("s3", ("region", "eu-west-1")));
        (await listed.WaitForFinalStatusAsync(repository, noTarget)).Description.ShouldBe("payload.config.dpl_options.bucket is not set; Repositories:atmos/my-robot:Dpl:Targets:s3 lists where atmos/my-robot may deploy with dpl s3");
        File.Exists(Record).ShouldBeFalse("dpl never ran");

        var (own, ownId) = await listed.DeployAsync(repository, sha, environment: "demo", config: Dpl("s3", ("bucket", "my-robot-site")));
        (await listed.WaitForFinalStatusAsync(repository, own)).State.ShouldBe("success", await listed.LogAsync(ownId));
        Arguments().ShouldBe(["--provider=s3", "--bucket=my-robot-site"]);
    }

    [Fact]
    public async Task DplsHeroku_IsHeldToHerokuApps_ForItGetsTheServersHerokuKey()
    {
        await using var listed = await StartAsync(new() { ["Repositories:atmos/my-robot:HerokuApps"] = "my-robot" });
        var (sha, _) = Commit();

        var (gitHubId, _) = await listed.DeployAsync(repository, sha, environment: "staging", config: new JsonObject { ["provider"] = "dpl", ["heroku_staging_name"] = "b-prod" });
        var final = await listed.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "dpl heroku app 'b-prod' is not allowed for atmos/my-robot: add it to Repositories:atmos/my-robot:HerokuApps"));
        File.Exists(Record).ShouldBeFalse();
    }

    [Fact]
    public async Task RequireTargetLists_WithoutDplProviders_IsRefused()
    {
        await using var strict = await StartAsync(new() { ["Providers:RequireTargetLists"] = "true" });
        var (sha, _) = Commit();

        var (gitHubId, _) = await strict.DeployAsync(repository, sha, config: Dpl("s3", ("bucket", "my-robot-site")));
        var final = await strict.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "dpl provider 's3' is not allowed for atmos/my-robot: Providers:RequireTargetLists needs Repositories:atmos/my-robot:Dpl:Providers"));
        File.Exists(Record).ShouldBeFalse();
    }

    [Fact]
    public async Task DplsScriptProvider_IsRefused_UnlessTheRepositoryIsAllowedIt()
    {
        var (sha, _) = Commit();

        var (refusedId, refusedHeavenId) = await harness.DeployAsync(repository, sha, config: Dpl("script", ("script", "curl example.com | sh")));
        var refused = await harness.WaitForFinalStatusAsync(repository, refusedId);

        (refused.State, refused.Description).ShouldBe(("error", "dpl's script provider is not allowed for atmos/my-robot: it runs any command; set Repositories:atmos/my-robot:Dpl:AllowScript=true"));
        (await harness.LogAsync(refusedHeavenId)).ShouldContain("dpl's script provider runs any command with dpl's credentials");
        File.Exists(Record).ShouldBeFalse();

        await using var allowed = await StartAsync(new() { ["Repositories:atmos/my-robot:Dpl:AllowScript"] = "true" });
        var (allowedId, _) = await allowed.DeployAsync(repository, sha, config: Dpl("script", ("script", "bin/publish")));
        (await allowed.WaitForFinalStatusAsync(repository, allowedId)).State.ShouldBe("success");
        Arguments().ShouldBe(["--provider=script", "--script=bin/publish"]);
    }

    [Fact]
    public async Task GemInstalls_AreLocalOnly_AndAGemInTheCheckoutIsRefused_UnlessTheRepositoryIsAllowedThem()
    {
        var (sha, _) = Commit();

        var (localId, localHeavenId) = await harness.DeployAsync(repository, sha, config: Dpl("s3", ("bucket", "my-robot-site")));
        (await harness.WaitForFinalStatusAsync(repository, localId)).State.ShouldBe("success");
        File.ReadAllLines(Record).Where(l => l.StartsWith("GEMRC ", StringComparison.Ordinal)).ShouldBe(["GEMRC install: --local", "GEMRC update: --local"]);
        (await harness.LogAsync(localHeavenId)).ShouldContain("gem installs use only the gems on this machine (Repositories:atmos/my-robot:Dpl:AllowGemInstall=true lets dpl fetch gems)");

        // dpl 1 installs dpl-<provider>-<version>.gem from its working directory: the repository's own code.
        var withGem = repository.Commit("a gem", new Dictionary<string, string> { ["dpl-s3-1.10.16.gem"] = "not really a gem" });
        var (gemId, _) = await harness.DeployAsync(repository, withGem, environment: "staging", config: Dpl("s3", ("bucket", "my-robot-site")));
        (await harness.WaitForFinalStatusAsync(repository, gemId)).Description.ShouldBe("the checkout holds dpl-s3-1.10.16.gem, which dpl may install: not allowed unless Repositories:atmos/my-robot:Dpl:AllowGemInstall=true");

        await using var allowed = await StartAsync(new() { ["Repositories:atmos/my-robot:Dpl:AllowGemInstall"] = "true" });
        File.Delete(Record);
        var (allowedId, _) = await allowed.DeployAsync(repository, withGem, config: Dpl("s3", ("bucket", "my-robot-site")));
        (await allowed.WaitForFinalStatusAsync(repository, allowedId)).State.ShouldBe("success");
        Environment().ShouldNotContainKey("GEMRC");
    }

    private Task<DeployHarness> StartAsync(Dictionary<string, string?> settings)
    {
        settings["Providers:Dpl:Command"] = Path.Combine(tools.Path, "dpl");
        settings["Providers:Heroku:ApiKey"] = HerokuKey;
        return DeployHarness.StartAsync(settings);
    }

    private static JsonObject Dpl(string provider, params (string Name, string Value)[] options)
    {
        var values = new JsonObject();
        foreach (var (name, value) in options)
        {
            values[name] = value;
        }

        return new JsonObject { ["provider"] = "dpl", ["dpl_provider"] = provider, ["dpl_options"] = values };
    }

    /// <summary>A commit whose VERSION the fake dpl prints: the log shows which checkout it ran in.</summary>
    private (string Sha, string Version) Commit()
    {
        var version = Guid.NewGuid().ToString("N");
        return (repository.Commit("app", new Dictionary<string, string> { ["VERSION"] = version }), version);
    }

    private string[] Arguments() => File.ReadAllLines(Record).Where(l => l.StartsWith("ARG ", StringComparison.Ordinal)).Select(l => l[4..]).ToArray();

    private Dictionary<string, string> Environment() => File.ReadAllLines(Record)
        .Where(l => l.StartsWith("ENV ", StringComparison.Ordinal))
        .Select(l => l[4..].Split('=', 2))
        .Where(p => p.Length == 2)
        .ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
}
