using System.IO.Compression;
using System.Text.Json.Nodes;
using Heaven.Model;
using Heaven.Providers;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Providers;

/// <summary>
/// The elastic_beanstalk provider end to end with the real AWS CLI (Debian's awscli) against a fake S3
/// and a fake Elastic Beanstalk on 127.0.0.1. The CLI is started through a wrapper that records the
/// argument vector and the environment's names, so a test sees exactly what the process table shows.
/// </summary>
public sealed class ElasticBeanstalkProviderTests : IAsyncLifetime
{
    private const string AccessKeyId = "AKIAHEAVENTEST000001";
    private const string SecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYHEAVENSECRET1";

    private readonly TestRepository repository = new("atmos/my-robot");
    private readonly TemporaryDirectory tools = new();
    private FakeS3 s3 = null!;
    private FakeElasticBeanstalk beanstalk = null!;
    private DeployHarness harness = null!;

    private string CallsFile => Path.Combine(tools.Path, "calls");

    public async Task InitializeAsync()
    {
        s3 = await FakeS3.StartAsync();
        beanstalk = await FakeElasticBeanstalk.StartAsync(s3);
        beanstalk.AddEnvironment("my-robot", "production");
        beanstalk.AddEnvironment("my-robot", "my-robot-staging");
        WriteWrapper();
        harness = await StartHarnessAsync();
    }

    public async Task DisposeAsync()
    {
        await harness.DisposeAsync();
        await beanstalk.DisposeAsync();
        await s3.DisposeAsync();
        repository.Dispose();
        tools.Dispose();
    }

    [Fact]
    public async Task ADeploy_UploadsTheCommit_CreatesAVersion_UpdatesTheEnvironment_AndWaitsUntilItIsGreen()
    {
        var sha = repository.Commit("app", new Dictionary<string, string> { ["Procfile"] = "web: bundle exec puma", ["public/index.html"] = "<h1>robot</h1>" });
        repository.Commit("later", new Dictionary<string, string> { ["Procfile"] = "web: a later commit" });

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: Config(("region", "eu-west-1")));
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("success");
        final.Description!.ShouldMatch($"^Deployed {sha[..8]} to production in \\d+s$");
        var key = $"my-robot/{sha}.zip";
        var label = $"{sha[..8]}-{gitHubId}";

        // The bundle: the deployed commit's files at the zip's root, nothing of .git.
        var upload = s3.Calls().ShouldHaveSingleItem();
        (upload.Method, upload.Path, upload.Region, upload.AccessKeyId, upload.Service).ShouldBe(("PUT", $"/heaven-builds/{key}", "eu-west-1", AccessKeyId, "s3"));
        using (var zip = new ZipArchive(new MemoryStream(s3.Object("heaven-builds", key)!)))
        {
            zip.Entries.Where(e => e.Length > 0 || !e.FullName.EndsWith('/')).Select(e => e.FullName).Order().ShouldBe(["Procfile", "public/index.html"]);
            new StreamReader(zip.GetEntry("Procfile")!.Open()).ReadToEnd().ShouldBe("web: bundle exec puma");
        }

        var create = beanstalk.Calls("CreateApplicationVersion").ShouldHaveSingleItem();
        create.Form["ApplicationName"].ShouldBe("my-robot");
        create.Form["VersionLabel"].ShouldBe(label);
        (create.Form["SourceBundle.S3Bucket"], create.Form["SourceBundle.S3Key"]).ShouldBe(("heaven-builds", key));
        (create.Region, create.Service).ShouldBe(("eu-west-1", "elasticbeanstalk"));
        var update = beanstalk.Calls("UpdateEnvironment").ShouldHaveSingleItem();
        (update.Form["EnvironmentName"], update.Form["VersionLabel"], update.Form["ApplicationName"]).ShouldBe(("production", label, "my-robot"));
        beanstalk.Calls("DescribeEnvironments").Count.ShouldBe(4);
        beanstalk.Calls("DescribeEvents").ShouldNotBeEmpty();
        beanstalk.Version("my-robot", label).ShouldBe(("heaven-builds", key));

        // The argument vectors, as the process table showed them.
        var calls = Calls();
        calls.Select(c => string.Join(' ', c.Argv.Take(2))).Distinct().ShouldBe(
            ["s3api put-object", "elasticbeanstalk create-application-version", "elasticbeanstalk update-environment", "elasticbeanstalk describe-environments", "elasticbeanstalk describe-events"]);
        calls[0].Argv.ShouldBe(["s3api", "put-object", "--bucket=heaven-builds", $"--key={key}", calls[0].Argv[4], $"--endpoint-url={s3.Endpoint}", "--output=json"]);
        calls[0].Argv[4].ShouldEndWith("/bundle.zip");
        calls[1].Argv.ShouldBe(
        [
            "elasticbeanstalk", "create-application-version", "--application-name=my-robot", $"--version-label={label}",
            $"--description=Heaven: atmos/my-robot master ({sha[..8]}) to production",
            $$"""--source-bundle={"S3Bucket":"heaven-builds","S3Key":"{{key}}"}""", $"--endpoint-url={beanstalk.Endpoint}", "--output=json",
        ]);
        calls[2].Argv.ShouldBe(["elasticbeanstalk", "update-environment", "--application-name=my-robot", "--environment-name=production", $"--version-label={label}", $"--endpoint-url={beanstalk.Endpoint}", "--output=json"]);
        calls[3].Argv.ShouldBe(["elasticbeanstalk", "describe-environments", "--application-name=my-robot", "--environment-names=production", $"--endpoint-url={beanstalk.Endpoint}", "--output=json"]);

        // Credentials by environment only; the user's ~/.aws and the instance role out of reach.
        foreach (var call in calls)
        {
            call.Variables.ShouldContain("AWS_ACCESS_KEY_ID");
            call.Variables.ShouldContain("AWS_SECRET_ACCESS_KEY");
            call.Variables.ShouldNotContain("GITHUB_TOKEN");
            call.Settings.ShouldBe("/dev/null /dev/null true eu-west-1 []");
        }

        File.ReadAllText(CallsFile).ShouldNotContain(SecretAccessKey);

        var log = await harness.LogAsync(heavenId);
        log.ShouldNotContain(SecretAccessKey);
        log.ShouldContain($"Uploading the source bundle (");
        log.ShouldContain("Environment production: Updating, health Grey, version " + label);
        log.ShouldContain("INFO Environment update is starting.");
        log.ShouldContain("INFO Deploying new version to instance(s).");
        log.ShouldContain("INFO Environment update completed successfully.");
        log.IndexOf("Updating, health Grey", StringComparison.Ordinal).ShouldBeLessThan(log.IndexOf("Environment production: Ready, health Green, version " + label, StringComparison.Ordinal));
        (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Succeeded);
    }

    [Fact]
    public async Task TheEnvironmentName_CanComeFromThePayload_AndTheRegionFromTheOriginalsPlace()
    {
        var sha = repository.Commit("app", new Dictionary<string, string> { ["Procfile"] = "web: run" });
        beanstalk.Plan = new BeanstalkUpdatePlan { UpdatingPolls = 1 };
        var config = Config(("environment_name", "my-robot-staging"));

        var (body, gitHubId) = DeploymentWebhook.For(repository, sha, environment: "staging", config: config);
        var payload = JsonNode.Parse(body)!;
        payload["deployment"]!["payload"]!["aws"] = new JsonObject { ["region"] = "ap-southeast-2" };
        (await harness.Host.SendWebhookAsync("deployment", payload.ToJsonString())).EnsureSuccessStatusCode();

        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");
        beanstalk.Calls("UpdateEnvironment").ShouldHaveSingleItem().Form["EnvironmentName"].ShouldBe("my-robot-staging");
        beanstalk.Calls().ShouldAllBe(r => r.Region == "ap-southeast-2");
    }

    [Fact]
    public async Task AnEnvironmentThatTurnsRed_IsAFailure_WithTheErrorEvent()
    {
        const string error = "During an aborted deployment, some instances may have deployed the new application version.";
        beanstalk.Plan = new BeanstalkUpdatePlan { UpdatingPolls = 2, FinalHealth = "Red", FailureEvent = error };
        var sha = repository.Commit("app", new Dictionary<string, string> { ["Procfile"] = "web: crash" });

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: Config());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        // Not cut to a share of its own: the whole description is cut once, to GitHub's 140 characters, which it fits.
        (final.State, final.Description).ShouldBe(("failure", $"environment production is Red after the update: {error}"));
        (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Failed);
        (await harness.LogAsync(heavenId)).ShouldContain("Environment production: Ready, health Red");
    }

    [Fact]
    public async Task AnUpdateElasticBeanstalkRolledBack_IsAFailure()
    {
        beanstalk.Plan = new BeanstalkUpdatePlan { UpdatingPolls = 1, RollBack = true };
        var sha = repository.Commit("app", new Dictionary<string, string> { ["Procfile"] = "web: crash" });

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, config: Config());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("failure", "environment production is back on version v0: the update failed: Failed to deploy application."));
    }

    [Fact]
    public async Task AnApplicationElasticBeanstalkDoesNotHave_IsAFailure_InAWSsWords()
    {
        var sha = repository.Commit("app", new Dictionary<string, string> { ["Procfile"] = "web: run" });

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, config: Config(("app_name", "no-such-app")));
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("failure");
        final.Description!.ShouldMatch("^aws elasticbeanstalk create-application-version exited with status [0-9]+: An error occurred \\(InvalidParameterValue\\) ");
        beanstalk.Calls("UpdateEnvironment").ShouldBeEmpty();
    }

    [Fact]
    public async Task AnEnvironmentStillUpdatingAtTheTimeout_FailsAsTimedOut_AndTheLogSaysHowToAbortIt()
    {
        // The provider's clock is a fake one: it stands still while the AWS CLI runs, however slow the
        // machine, and the deployment's time runs out when the test moves it on, during the wait.
        var clock = new TestClock(DateTimeOffset.UtcNow);
        await using var impatient = await StartHarnessAsync(
            new Dictionary<string, string?> { ["Deployments:Timeout"] = "59" },
            services => ProviderClock.RunOn<ElasticBeanstalkProvider>(services, clock));
        beanstalk.Plan = new BeanstalkUpdatePlan { Forever = true };
        var sha = repository.Commit("app", new Dictionary<string, string> { ["Procfile"] = "web: slow" });

        var (gitHubId, heavenId) = await impatient.DeployAsync(repository, sha, config: Config());
        // Asleep before its first look at the environment, then before its second: the environment is updating.
        await clock.SleepingAsync("the provider, before its first look", left => left == PollInterval);
        clock.Advance(PollInterval);
        await clock.SleepingAsync("the provider, before its second look", left => left == PollInterval);
        await HerokuProviderTests.LogShowsAsync(impatient, heavenId, "Environment production: Updating, health Grey");
        clock.Advance(TimeSpan.FromSeconds(59));
        var final = await impatient.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("failure", "timed out after 59s"));
        var log = await impatient.LogAsync(heavenId);
        log.ShouldContain("Environment production: Updating, health Grey");
        log.ShouldContain("Timed out after 59s: stopped waiting for environment production; its update goes on in AWS (aws elasticbeanstalk abort-environment-update --environment-name=production stops it)");
    }

    [Theory]
    [InlineData("no app_name", "payload.config.app_name is not set; the elastic_beanstalk provider needs the Elastic Beanstalk application's name")]
    [InlineData("environment qa", "'qa' is not an Elastic Beanstalk environment name (4 to 40 letters, digits and dashes); set payload.config.environment_name")]
    [InlineData("region", "'us-east-1; rm -rf /' is not an AWS region name (payload.config.region)")]
    public async Task PayloadFieldsThatCannotWork_EndErrored_NamingTheField(string @case, string expected)
    {
        var sha = repository.Commit("app", new Dictionary<string, string> { ["Procfile"] = "web: run" });
        var config = @case switch
        {
            "no app_name" => new JsonObject { ["provider"] = "elastic_beanstalk" },
            "region" => Config(("region", "us-east-1; rm -rf /")),
            _ => Config(),
        };

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, environment: @case == "environment qa" ? "qa" : "production", config: config);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", expected));
        File.Exists(CallsFile).ShouldBeFalse();
    }

    [Theory]
    [InlineData("Providers:ElasticBeanstalk:S3Bucket", "Providers:ElasticBeanstalk:S3Bucket (or BEANSTALK_S3_BUCKET) is not set; the elastic_beanstalk provider uploads the source bundle there")]
    [InlineData("Providers:ElasticBeanstalk:AccessKeyId", "Providers:ElasticBeanstalk:AccessKeyId (or BEANSTALK_ACCESS_KEY_ID) is not set; the elastic_beanstalk provider needs it")]
    [InlineData("Providers:ElasticBeanstalk:SecretAccessKey", "Providers:ElasticBeanstalk:SecretAccessKey (or BEANSTALK_SECRET_ACCESS_KEY) is not set; the elastic_beanstalk provider needs it")]
    public async Task AMissingSetting_EndsErrored_NamingIt(string setting, string expected)
    {
        await using var unset = await StartHarnessAsync(new Dictionary<string, string?> { [setting] = null });
        var sha = repository.Commit("app", new Dictionary<string, string> { ["Procfile"] = "web: run" });

        var (gitHubId, _) = await unset.DeployAsync(repository, sha, config: Config());
        var final = await unset.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", expected));
        File.Exists(CallsFile).ShouldBeFalse();
        s3.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task WithoutTheAwsCli_EndsErrored_SayingHowToGetIt()
    {
        await using var bare = await StartHarnessAsync(new Dictionary<string, string?> { ["Providers:ElasticBeanstalk:AwsCli"] = Path.Combine(tools.Path, "no-aws-here") });
        var sha = repository.Commit("app", new Dictionary<string, string> { ["Procfile"] = "web: run" });

        var (gitHubId, heavenId) = await bare.DeployAsync(repository, sha, config: Config());
        var final = await bare.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "cannot start no-aws-here: install the AWS CLI (apt-get install awscli) or set Providers:ElasticBeanstalk:AwsCli"));
        (await bare.LogAsync(heavenId)).ShouldContain($"Cannot start {Path.Combine(tools.Path, "no-aws-here")}: no such file.");
    }

    [Fact]
    public async Task TheRepositorysOwnApplicationAndEnvironment_Deploy_AndAnotherApplication_IsRefusedBeforeAws()
    {
        beanstalk.AddEnvironment("b-app", "b-app-production");
        await using var listed = await StartHarnessAsync(new Dictionary<string, string?>
        {
            ["Repositories:atmos/my-robot:ElasticBeanstalk:Applications"] = "my-robot",
            ["Repositories:atmos/my-robot:ElasticBeanstalk:Environments:0"] = "production",
        });
        var sha = repository.Commit("app", new Dictionary<string, string> { ["Procfile"] = "web: run" });

        var (refusedId, refusedHeavenId) = await listed.DeployAsync(repository, sha, config: new JsonObject { ["provider"] = "elastic_beanstalk", ["app_name"] = "b-app", ["environment_name"] = "b-app-production" });
        var refused = await listed.WaitForFinalStatusAsync(repository, refusedId);

        (refused.State, refused.Description).ShouldBe(("error", "Elastic Beanstalk application 'b-app' is not allowed for atmos/my-robot: add it to Repositories:atmos/my-robot:ElasticBeanstalk:Applications"));
        File.Exists(CallsFile).ShouldBeFalse("the AWS CLI never ran");
        s3.Requests.ShouldBeEmpty();
        beanstalk.Requests.ShouldBeEmpty();
        (await listed.LogAsync(refusedHeavenId)).ShouldContain("(allowed: my-robot).");

        var (allowedId, allowedHeavenId) = await listed.DeployAsync(repository, sha, config: Config());
        (await listed.WaitForFinalStatusAsync(repository, allowedId)).State.ShouldBe("success", await listed.LogAsync(allowedHeavenId));
        beanstalk.Calls("UpdateEnvironment").ShouldHaveSingleItem().Form["EnvironmentName"].ShouldBe("production");
    }

    [Fact]
    public async Task AnEnvironmentOutsideTheList_IsRefused_NamingTheEnvironmentsSetting()
    {
        await using var listed = await StartHarnessAsync(new Dictionary<string, string?>
        {
            ["Repositories:atmos/my-robot:ElasticBeanstalk:Applications"] = "my-robot",
            ["Repositories:atmos/my-robot:ElasticBeanstalk:Environments"] = "production",
        });
        var sha = repository.Commit("app", new Dictionary<string, string> { ["Procfile"] = "web: run" });

        var (gitHubId, _) = await listed.DeployAsync(repository, sha, config: Config(("environment_name", "my-robot-staging")));
        var final = await listed.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "Elastic Beanstalk environment 'my-robot-staging' is not allowed: add it to Repositories:atmos/my-robot:ElasticBeanstalk:Environments"));
        File.Exists(CallsFile).ShouldBeFalse();
        beanstalk.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task RequireTargetLists_WithoutAnApplicationsList_IsRefused()
    {
        await using var strict = await StartHarnessAsync(new Dictionary<string, string?> { ["Providers:RequireTargetLists"] = "true" });
        var sha = repository.Commit("app", new Dictionary<string, string> { ["Procfile"] = "web: run" });

        var (gitHubId, _) = await strict.DeployAsync(repository, sha, config: Config());
        var final = await strict.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "Elastic Beanstalk application 'my-robot': Providers:RequireTargetLists needs Repositories:atmos/my-robot:ElasticBeanstalk:Applications"));
        File.Exists(CallsFile).ShouldBeFalse();
        s3.Requests.ShouldBeEmpty();
    }

    private static JsonObject Config(params (string Key, string Value)[] extra)
    {
        var config = new JsonObject { ["provider"] = "elastic_beanstalk", ["app_name"] = "my-robot" };
        foreach (var (key, value) in extra)
        {
            config[key] = value;
        }

        return config;
    }

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private async Task<DeployHarness> StartHarnessAsync(Dictionary<string, string?>? overrides = null, Action<IServiceCollection>? overrideServices = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Providers:ElasticBeanstalk:S3Bucket"] = "heaven-builds",
            ["Providers:ElasticBeanstalk:AccessKeyId"] = AccessKeyId,
            ["Providers:ElasticBeanstalk:SecretAccessKey"] = SecretAccessKey,
            ["Providers:ElasticBeanstalk:S3Endpoint"] = s3.Endpoint,
            ["Providers:ElasticBeanstalk:EndpointUrl"] = beanstalk.Endpoint,
            ["Providers:ElasticBeanstalk:AwsCli"] = Path.Combine(tools.Path, "aws"),
            ["Providers:ElasticBeanstalk:PollInterval"] = "00:00:00.100",
            ["Deployments:Timeout"] = "90",
        };
        foreach (var (key, value) in overrides ?? [])
        {
            settings[key] = value;
        }

        return await DeployHarness.StartAsync(settings, overrideServices: overrideServices);
    }

    /// <summary>
    /// An <c>aws</c> that notes its arguments (one per tab), the names of its environment variables and
    /// the values of the non-secret AWS settings, then runs the real AWS CLI (Debian's when installed).
    /// </summary>
    private void WriteWrapper()
    {
        var real = File.Exists("/usr/bin/aws") ? "/usr/bin/aws" : "aws";
        var path = Path.Combine(tools.Path, "aws");
        File.WriteAllText(path, $$"""
            #!/usr/bin/env bash
            {
              printf 'ARGV'; printf '\t%s' "$@"; printf '\n'
              printf 'ENV\t%s\n' "$(env | cut -d= -f1 | sort | tr '\n' ' ')"
              printf 'SET\t%s %s %s %s [%s]\n' "$AWS_CONFIG_FILE" "$AWS_SHARED_CREDENTIALS_FILE" "$AWS_EC2_METADATA_DISABLED" "$AWS_DEFAULT_REGION" "${AWS_PAGER-unset}"
            } >> '{{CallsFile}}'
            exec {{real}} "$@"
            """);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private List<(string[] Argv, string[] Variables, string Settings)> Calls()
    {
        var lines = File.ReadAllLines(CallsFile);
        var calls = new List<(string[], string[], string)>();
        for (var i = 0; i + 2 < lines.Length; i += 3)
        {
            calls.Add((lines[i].Split('\t')[1..], lines[i + 1].Split('\t')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries), lines[i + 2].Split('\t')[1]));
        }

        return calls;
    }
}
