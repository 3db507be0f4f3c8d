using System.Text.Json.Nodes;
using Heaven.Configuration;
using Heaven.Model;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;

namespace Heaven.Tests.Providers;

/// <summary>
/// Repositories:&lt;owner/name&gt; — which providers and environments a repository may use, or one
/// pinned provider — and the command provider the server configures for it.
/// </summary>
public sealed class RepositoryPolicyTests : IDisposable
{
    private const string Tool = "tools/ship";

    private readonly TestRepository repository = new("octo/app");

    public void Dispose() => repository.Dispose();

    [Fact]
    public async Task TheCommandProvider_RunsTheConfiguredCommandInTheCheckout_WithTheDeployEnvironment()
    {
        await using var harness = await StartAsync(new()
        {
            ["Repositories:octo/app:Command"] = $"{Tool} %{{environment}} --sha=%{{sha}} --task=%{{task}} 'two words' \"$NOT_EXPANDED\"",
            ["Repositories:octo/app:Environments:staging:Command"] = $"{Tool} staging-only %{{ref}} %{{repository}} %{{app}}",
            // Naming environments limits deploys to them: production is listed, with the repository's command.
            ["Repositories:octo/app:Environments:production"] = "",
        });
        var sha = CommitTool();

        var (production, productionId) = await harness.DeployAsync(repository, sha, config: Command());
        var (staging, stagingId) = await harness.DeployAsync(repository, sha, environment: "staging", config: Command());

        (await harness.WaitForFinalStatusAsync(repository, production)).State.ShouldBe("success", await harness.LogAsync(productionId));
        (await harness.WaitForFinalStatusAsync(repository, staging)).State.ShouldBe("success", await harness.LogAsync(stagingId));
        var log = await harness.LogAsync(productionId);
        log.ShouldContain($"Running tools/ship production --sha={sha} --task=deploy 'two words' '$NOT_EXPANDED'");
        log.ShouldContain($"argument: production|--sha={sha}|--task=deploy|two words|$NOT_EXPANDED|");
        log.ShouldContain("in the checkout: yes");
        log.ShouldContain("BRANCH=master DEPLOY_ENV=production SSH_AUTH_SOCK=none");
        (await harness.LogAsync(stagingId)).ShouldContain("argument: staging-only|master|octo/app|app|");
    }

    [Fact]
    public async Task TheCommandProvider_WithoutACommand_EndsErroredSayingWhatToSet()
    {
        await using var harness = await StartAsync([]);
        var sha = CommitTool();

        var (gitHubId, _) = await harness.DeployAsync(repository, sha, config: Command());
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "no command is configured for octo/app; set Repositories:octo/app:Command on the Heaven server"));
    }

    [Fact]
    public async Task TheCommandProvider_PassesHostileValuesOnlyAsInertText_OrRefusesThem()
    {
        var pwned = Path.Combine(Path.GetTempPath(), $"pwned-{Guid.NewGuid():N}");
        await using var harness = await StartAsync(new() { ["Repositories:octo/app:Command"] = $"{Tool} --task=%{{task}} %{{environment}}" });
        var sha = CommitTool();

        var (inert, inertId) = await harness.DeployAsync(repository, sha, task: "-rf", config: Command());
        var (refusedTask, refusedTaskId) = await harness.DeployAsync(repository, sha, environment: "staging", task: $"deploy;touch {pwned}", config: Command());
        var (refusedEnvironment, _) = await harness.DeployAsync(repository, sha, environment: "-x", config: Command());

        (await harness.WaitForFinalStatusAsync(repository, inert)).State.ShouldBe("success");
        (await harness.LogAsync(inertId)).ShouldContain("argument: --task=-rf|production|");
        var task = await harness.WaitForFinalStatusAsync(repository, refusedTask);
        task.State.ShouldBe("error");
        // GitHub keeps 140 characters; the log has all of it.
        task.Description!.ShouldStartWith($"task 'deploy;touch {pwned}' cannot be used in the command: it may only hold letters");
        (await harness.LogAsync(refusedTaskId)).ShouldContain($"task 'deploy;touch {pwned}' cannot be used in the command: it may only hold letters, digits and - _ . : / (Repositories:octo/app:Command)");
        var environment = await harness.WaitForFinalStatusAsync(repository, refusedEnvironment);
        (environment.State, environment.Description).ShouldBe(("error", "environment '-x' cannot be used in the command: it would start an argument with '-' (Repositories:octo/app:Command)"));
        File.Exists(pwned).ShouldBeFalse();
    }

    [Fact]
    public async Task APinnedProvider_RunsWhateverTheyAskedFor_AndTheLogSaysSo()
    {
        await using var harness = await StartAsync(new()
        {
            ["Repositories:octo/app:Provider"] = "command",
            ["Repositories:octo/app:Command"] = $"{Tool} pinned",
        });
        var sha = CommitTool();

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: new JsonObject { ["provider"] = "shell", ["deploy_script"] = "script/deploy" });
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("success");
        var log = await harness.LogAsync(heavenId);
        log.ShouldContain("payload.config.provider asks for 'shell', but Repositories:octo/app:Provider pins 'command': running that instead");
        log.ShouldContain("argument: pinned|");
        log.ShouldNotContain("shell script ran");
        (await harness.DeploymentAsync(heavenId)).Provider.ShouldBe("command");
    }

    [Fact]
    public async Task ADisallowedProvider_EndsErroredWithAStatusSayingItIsNotAllowed()
    {
        await using var harness = await StartAsync(new() { ["Repositories:octo/app:Providers:0"] = "fabric", ["Repositories:octo/app:Providers:1"] = "command" });
        var sha = CommitTool();

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: new JsonObject { ["provider"] = "shell", ["deploy_script"] = "script/deploy" });
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "provider 'shell' is not allowed for octo/app (allowed: fabric, command)"));
        harness.Story(repository, gitHubId).ShouldBe(["error: provider 'shell' is not allowed for octo/app (allowed: fabric, command)"]);
        var deployment = await harness.DeploymentAsync(heavenId);
        deployment.State.ShouldBe(DeploymentState.Errored);
        deployment.StartedAt.ShouldBeNull();
        (await harness.LogAsync(heavenId)).ShouldNotContain("shell script ran");
    }

    [Fact]
    public async Task ADisallowedEnvironment_EndsErroredWithAStatusSayingItIsNotAllowed()
    {
        await using var harness = await StartAsync(new() { ["Repositories:octo/app:Environments"] = "production, staging" });
        var sha = CommitTool();

        var (refused, refusedId) = await harness.DeployAsync(repository, sha, environment: "qa");
        var (allowed, _) = await harness.DeployAsync(repository, sha, environment: "staging");

        var final = await harness.WaitForFinalStatusAsync(repository, refused);
        (final.State, final.Description).ShouldBe(("error", "environment 'qa' is not allowed for octo/app (allowed: production, staging)"));
        (await harness.DeploymentAsync(refusedId)).State.ShouldBe(DeploymentState.Errored);
        (await harness.WaitForFinalStatusAsync(repository, allowed)).State.ShouldBe("success");
    }

    [Fact]
    public async Task AnEnvironmentWithItsOwnCommand_IsAnAllowedOne()
    {
        await using var harness = await StartAsync(new()
        {
            ["Repositories:octo/app:Command"] = $"{Tool} default",
            ["Repositories:octo/app:Environments:production:Command"] = $"{Tool} production-only",
            ["Repositories:octo/app:Environments:staging"] = "",
        });
        var sha = CommitTool();

        var (production, productionId) = await harness.DeployAsync(repository, sha, config: Command());
        var (staging, stagingId) = await harness.DeployAsync(repository, sha, environment: "staging", config: Command());
        var (qa, _) = await harness.DeployAsync(repository, sha, environment: "qa", config: Command());

        (await harness.WaitForFinalStatusAsync(repository, production)).State.ShouldBe("success");
        (await harness.LogAsync(productionId)).ShouldContain("argument: production-only|");
        (await harness.WaitForFinalStatusAsync(repository, staging)).State.ShouldBe("success");
        (await harness.LogAsync(stagingId)).ShouldContain("argument: default|");
        (await harness.WaitForFinalStatusAsync(repository, qa)).Description.ShouldBe("environment 'qa' is not allowed for octo/app (allowed: production, staging)");
    }

    [Fact]
    public async Task AnUnknownProvider_IsStillLeftAlone_UnderAPolicy()
    {
        await using var harness = await StartAsync(new() { ["Repositories:octo/app:Provider"] = "shell" });
        var sha = CommitTool();

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, config: new JsonObject { ["provider"] = "someone-elses" });
        var looked = await Poll.ForAsync(() => harness.DeploymentAsync(heavenId), d => d.State != DeploymentState.Queued, "the deployment to be looked at");

        looked.State.ShouldBe(DeploymentState.Ignored);
        // A status would have been put in the outbox with the outcome; none was, and none reached GitHub.
        (await harness.Host.WorkItemsAsync(WorkItemKinds.PostDeploymentStatus)).ShouldBeEmpty();
        await harness.Host.IdleAsync(OutboxConsumer.StatusSender);
        harness.Story(repository, gitHubId).ShouldBeEmpty();
    }

    [Fact]
    public async Task WithoutAPolicy_ThePayloadChooses_AsInTheOriginal()
    {
        await using var harness = await StartAsync(new() { ["Repositories:other/repo:Provider"] = "command" });
        var sha = CommitTool();

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, environment: "anything");

        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");
        (await harness.LogAsync(heavenId)).ShouldContain("shell script ran");
    }

    [Theory]
    [InlineData("Repositories:octo/app:Provider", "fabrik", "Repositories:octo/app:Provider is 'fabrik', which is not one of Heaven's providers (ansible, bundler_capistrano, capistrano, command, dpl, elastic_beanstalk, fabric, heroku, shell).")]
    [InlineData("Repositories:octo/app:Providers:0", "capistrano-ish", "Repositories:octo/app:Providers names 'capistrano-ish', which is not one of Heaven's providers")]
    [InlineData("Repositories:octo/app:Command", "kubectl 'apply", "Repositories:octo/app:Command is not a usable command: the command has an unbalanced single quote.")]
    [InlineData("Repositories:octo/app:Command", "helm upgrade %{release}", "Repositories:octo/app:Command is not a usable command: the command uses the unknown placeholder %{release}")]
    [InlineData("Repositories:octo/app:Environments:production:Command", "kubectl apply && echo", "Repositories:octo/app:Environments:production:Command is not a usable command: the command contains '&' outside quotes")]
    [InlineData("Repositories:octo/app:Providr", "shell", "Repositories:octo/app:Providr is not a repository setting (known: Provider, Providers, Environments, Command, Concurrency, AutoDeploy, DeployKey, HerokuApps, ElasticBeanstalk, Dpl, BundlerPrivateSource, WebhookSecret).")]
    [InlineData("Repositories:octo/app:Environments:production:Comand", "x", "Repositories:octo/app:Environments:production:Comand is not an environment setting (known: Command, Concurrency).")]
    [InlineData("Repositories:octo/app:Concurrency", "later", "Repositories:octo/app:Concurrency is 'later'; use reject, queue or supersede.")]
    [InlineData("Repositories:octo/app:Environments:production:Concurrency", "1", "Repositories:octo/app:Environments:production:Concurrency is '1'; use reject, queue or supersede.")]
    [InlineData("Repositories:octo/app:Dpl:AllowScript", "yes", "Repositories:octo/app:Dpl:AllowScript must be true or false; got 'yes'.")]
    [InlineData("Repositories:octo/app:BundlerPrivateSource", "sometimes", "Repositories:octo/app:BundlerPrivateSource must be true or false; got 'sometimes'.")]
    [InlineData("Repositories:octo/app:ElasticBeanstalk:Apps", "my-robot", "Repositories:octo/app:ElasticBeanstalk:Apps is not an Elastic Beanstalk setting (known: Applications, Environments).")]
    [InlineData("Repositories:octo/app:Dpl:Target:s3", "site", "Repositories:octo/app:Dpl:Target is not a dpl setting (known: Providers, Targets, AllowScript, AllowGemInstall).")]
    [InlineData("Repositories:octo/app:Dpl:Targets:npm", "my-package", "Repositories:octo/app:Dpl:Targets:npm: Heaven knows no target option of dpl's 'npm' provider")]
    [InlineData("Repositories:octo/app:Dpl:Providers", "S3", "Repositories:octo/app:Dpl:Providers names 'S3', which is not a dpl provider name")]
    [InlineData("Deployments:Concurrency", "later", "Deployments:Concurrency")]
    [InlineData("Deployments:MaxQueueLength", "0", "Deployments:MaxQueueLength must be a whole number from 1 to 10000; got 0.")]
    [InlineData("Locks:DefaultTtl", "-00:01:00", "Locks:DefaultTtl must be a positive time span")]
    [InlineData("Repositories:octo:Provider", "shell", "Repositories:octo is not a repository: use Repositories:<owner>/<name>")]
    [InlineData("Repositories:octo/app/x:Provider", "shell", "Repositories:octo/app/x: 'octo/app/x' is not a repository name")]
    [InlineData("Providers:Fabric:CommandFormat", "fab \"deploy", "Providers:Fabric:CommandFormat (or DEPLOY_COMMAND_FORMAT) is not a usable command: the command has an unbalanced double quote.")]
    public async Task AWrongRepositorySetting_StopsTheStartSayingWhatIsWrong(string key, string value, string expected)
    {
        var error = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?> { [key] = value }));

        error.Message.ShouldContain(expected);
    }

    [Fact]
    public async Task ProviderAndProviders_CannotBothBeSet()
    {
        var error = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Repositories:octo/app:Provider"] = "shell",
            ["Repositories:octo/app:Providers"] = "shell,fabric",
        }));

        error.Message.ShouldContain("Repositories:octo/app sets both Provider and Providers: Provider pins one provider, Providers allows several; keep one of them.");
    }

    [Fact]
    public async Task RepositoriesMayAlsoBeNestedByOwner_ForEnvironmentVariablesWithoutASlash()
    {
        await using var harness = await StartAsync(new() { ["Repositories:octo:app:Providers"] = "fabric" });
        var sha = CommitTool();

        var (gitHubId, _) = await harness.DeployAsync(repository, sha);

        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).Description.ShouldBe("provider 'shell' is not allowed for octo/app (allowed: fabric)");
    }

    private static JsonObject Command() => new() { ["provider"] = "command" };

    private static Task<DeployHarness> StartAsync(Dictionary<string, string?> settings) => DeployHarness.StartAsync(settings);

    /// <summary>A repository with a tool that prints what it was given, and the original's shell script.</summary>
    private string CommitTool() => repository.Commit("tools", new Dictionary<string, string>
    {
        [Tool] = """
            #!/usr/bin/env bash
            printf 'argument: '; printf '%s|' "$@"; echo
            [ -f tools/ship ] && echo "in the checkout: yes"
            echo "BRANCH=$BRANCH DEPLOY_ENV=$DEPLOY_ENV SSH_AUTH_SOCK=${SSH_AUTH_SOCK:-none}"
            """,
        ["script/deploy"] = "#!/usr/bin/env bash\necho shell script ran\n",
    }, Tool, "script/deploy");
}
