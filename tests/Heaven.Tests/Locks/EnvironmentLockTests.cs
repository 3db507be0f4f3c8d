using System.Text.Json.Nodes;
using Heaven.Locks;
using Heaven.Model;
using Heaven.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;

namespace Heaven.Tests.Locks;

/// <summary><c>deploy:lock</c> / <c>deploy:unlock</c> deployments, and what a lock does to the deployments after it.</summary>
public sealed class EnvironmentLockTests : IDisposable
{
    private const string Reason = "Deploying from hubot-deploy";
    private readonly TestRepository repository = new("octo/app");

    public void Dispose() => repository.Dispose();

    /// <summary>hubot-deploy's lock deployments name no provider: locks must not need one.</summary>
    private static JsonObject NoProvider() => [];

    [Fact]
    public async Task Lock_RejectsOthers_AnotherLockIsRefused_AndUnlockLetsDeploysThroughAgain()
    {
        await using var harness = await DeployHarness.StartAsync();
        var sha = repository.CommitDeployScript("echo deployed");

        var (lockId, lockHeavenId) = await harness.DeployAsync(repository, sha, task: "deploy:lock", creator: "alice", config: NoProvider());
        (await harness.WaitForFinalStatusAsync(repository, lockId)).Description.ShouldBe("octo/app locked on production by alice");
        harness.Story(repository, lockId).ShouldBe(["success: octo/app locked on production by alice"]);
        (await harness.DeploymentAsync(lockHeavenId)).State.ShouldBe(DeploymentState.Succeeded);
        var stored = await harness.Host.QueryAsync(db => db.EnvironmentLocks.AsNoTracking().SingleAsync());
        (stored.Repository, stored.Environment, stored.LockedBy, stored.Reason, stored.ExpiresAt).ShouldBe(("octo/app", "production", "alice", Reason, (DateTime?)null));

        var (deployId, deployHeavenId) = await harness.DeployAsync(repository, sha, creator: "bob");
        await harness.WaitForFinalStatusAsync(repository, deployId);
        harness.Story(repository, deployId).ShouldBe([$"error: octo/app is locked on production by alice: {Reason}"]);
        (await harness.DeploymentAsync(deployHeavenId)).State.ShouldBe(DeploymentState.Rejected);

        // The holder is stopped too unless Locks:OwnerMayDeploy is on.
        var (ownId, _) = await harness.DeployAsync(repository, sha, creator: "alice");
        (await harness.WaitForFinalStatusAsync(repository, ownId)).State.ShouldBe("error");

        var (relockId, _) = await harness.DeployAsync(repository, sha, task: "deploy:lock", creator: "bob", config: NoProvider());
        await harness.WaitForFinalStatusAsync(repository, relockId);
        harness.Story(repository, relockId).ShouldBe([$"error: octo/app is already locked on production by alice: {Reason}"]);

        // Another environment is not locked.
        var (stagingId, _) = await harness.DeployAsync(repository, sha, environment: "staging", creator: "bob");
        (await harness.WaitForFinalStatusAsync(repository, stagingId)).State.ShouldBe("success");

        var (unlockId, _) = await harness.DeployAsync(repository, sha, task: "deploy:unlock", creator: "bob", config: NoProvider());
        await harness.WaitForFinalStatusAsync(repository, unlockId);
        harness.Story(repository, unlockId).ShouldBe(["success: octo/app unlocked on production by bob"]);
        (await harness.Host.QueryAsync(db => db.EnvironmentLocks.CountAsync())).ShouldBe(0);

        var (afterId, _) = await harness.DeployAsync(repository, sha, creator: "bob");
        (await harness.WaitForFinalStatusAsync(repository, afterId)).State.ShouldBe("success");
    }

    [Fact]
    public async Task TheLockCoversEveryAppOfTheRepository_AndHonoursTheTaskPrefix()
    {
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Deployments:TaskPrefix"] = "ship" });
        var sha = repository.CommitDeployScript("echo deployed");

        var (lockId, _) = await harness.DeployAsync(repository, sha, task: "ship:lock", creator: "alice", name: "api", config: NoProvider());
        (await harness.WaitForFinalStatusAsync(repository, lockId)).Description.ShouldBe("octo/app locked on production by alice");

        var (otherAppId, _) = await harness.DeployAsync(repository, sha, creator: "bob", name: "web");
        (await harness.WaitForFinalStatusAsync(repository, otherAppId)).Description.ShouldBe($"octo/app is locked on production by alice: {Reason}");
    }

    [Fact]
    public async Task OwnerMayDeploy_LetsTheHolderThrough_ButNobodyElse()
    {
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Locks:OwnerMayDeploy"] = "true" });
        var sha = repository.CommitDeployScript("echo deployed");
        var (lockId, _) = await harness.DeployAsync(repository, sha, task: "deploy:lock", creator: "alice", config: NoProvider());
        await harness.WaitForFinalStatusAsync(repository, lockId);

        var (ownId, _) = await harness.DeployAsync(repository, sha, creator: "alice");
        var (otherId, _) = await harness.DeployAsync(repository, sha, environment: "production", creator: "bob");

        (await harness.WaitForFinalStatusAsync(repository, ownId)).State.ShouldBe("success");
        (await harness.WaitForFinalStatusAsync(repository, otherId)).Description.ShouldBe($"octo/app is locked on production by alice: {Reason}");
    }

    [Fact]
    public async Task AnExpiredLock_BlocksNothing()
    {
        // The locks' clock is a fake one: the lock expires when the test says so, not after a real wait.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var harness = await DeployHarness.StartAsync(
            new Dictionary<string, string?> { ["Locks:DefaultTtl"] = "00:10:00" },
            overrideServices: services => services.Replace(ServiceDescriptor.Singleton(provider => ActivatorUtilities.CreateInstance<EnvironmentLocks>(provider, (TimeProvider)clock))));
        var sha = repository.CommitDeployScript("echo deployed");
        var (lockId, _) = await harness.DeployAsync(repository, sha, task: "deploy:lock", creator: "alice", config: NoProvider());
        await harness.WaitForFinalStatusAsync(repository, lockId);
        var stored = await harness.Host.QueryAsync(db => db.EnvironmentLocks.AsNoTracking().SingleAsync());
        stored.ExpiresAt.ShouldNotBeNull();
        (stored.ExpiresAt.Value - stored.LockedAt).ShouldBe(TimeSpan.FromMinutes(10));

        // A second before it expires, the lock still holds.
        clock.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromSeconds(1));
        var (earlyId, _) = await harness.DeployAsync(repository, sha, creator: "bob");
        (await harness.WaitForFinalStatusAsync(repository, earlyId)).Description.ShouldBe($"octo/app is locked on production by alice: {Reason}");

        clock.Advance(TimeSpan.FromSeconds(1));
        var (deployId, _) = await harness.DeployAsync(repository, sha, creator: "bob");

        (await harness.WaitForFinalStatusAsync(repository, deployId)).State.ShouldBe("success");
    }

    [Fact]
    public async Task TheLockUserIsTheChatUserWhenThePayloadNamesOne_AndTheReasonComesFromThePayload()
    {
        await using var harness = await DeployHarness.StartAsync();
        var sha = repository.CommitDeployScript("echo deployed");
        var deployment = new DeploymentRecord
        {
            Repository = "octo/app", CloneUrl = "", Ref = "master", Sha = sha, Task = "deploy:lock", Environment = "production",
            PayloadJson = """{"notify":{"user":"carol","user_name":"Carol C."},"reason":"db migration"}""", Description = "hubot", CreatorLogin = "hubot",
            DeliveryId = "x", App = "app", ExclusivityKey = "k",
        };

        // One rule for who deployed, in locks as in chat: notify.user, then notify.user_name, then the creator.
        (EnvironmentLocks.UserOf(deployment), EnvironmentLocks.ReasonOf(deployment)).ShouldBe(("carol", "db migration"));
        deployment.PayloadJson = """{"notify":{"user_name":"Carol C."}}""";
        EnvironmentLocks.UserOf(deployment).ShouldBe("Carol C.");
        deployment.PayloadJson = "{}";
        (EnvironmentLocks.UserOf(deployment), EnvironmentLocks.ReasonOf(deployment)).ShouldBe(("hubot", "hubot"));
    }

    [Fact]
    public void ALongReason_IsCutToGitHubsLength()
    {
        var text = LockTexts.IsLocked("octo/app", "production", "alice", new string('x', 300));

        text.Length.ShouldBe(140);
        text.ShouldStartWith("octo/app is locked on production by alice: xxx");
        LockTexts.IsLocked("octo/app", "production", "alice", null).ShouldBe("octo/app is locked on production by alice");
    }

    [Fact]
    public async Task LocksAreKeptInTheDatabase_ListedAndRemovedFromTheCommandLine()
    {
        await using var harness = await DeployHarness.StartAsync();
        var sha = repository.CommitDeployScript("echo deployed");
        var (lockId, _) = await harness.DeployAsync(repository, sha, task: "deploy:lock", creator: "alice", config: NoProvider());
        await harness.WaitForFinalStatusAsync(repository, lockId);
        var environment = new Dictionary<string, string>
        {
            ["HEAVEN_DATA_DIR"] = harness.Host.DataDirectory,
            ["GITHUB_WEBHOOK_SECRET"] = HeavenTestHost.Secret,
        };

        var (listed, listing, listError) = await HeavenProcess.RunAsync(environment, "locks");
        listed.ShouldBe(0, listError);
        var rows = listing.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        rows[0].ShouldStartWith("REPOSITORY  ENVIRONMENT  LOCKED BY  LOCKED AT (UTC)");
        rows[1].ShouldStartWith("octo/app    production   alice      ");
        rows[1].ShouldEndWith($"  unlocked     {Reason}");

        var (unlocked, unlockOutput, unlockError) = await HeavenProcess.RunAsync(environment, "unlock", "octo/app", "production");
        unlocked.ShouldBe(0, unlockError);
        unlockOutput.ShouldContain("octo/app unlocked on production (it was locked by alice).");
        var (again, _, againError) = await HeavenProcess.RunAsync(environment, "unlock", "octo/app", "production");
        again.ShouldBe(1);
        againError.ShouldContain("octo/app is not locked on production.");

        var (deployId, _) = await harness.DeployAsync(repository, sha, creator: "bob");
        (await harness.WaitForFinalStatusAsync(repository, deployId)).State.ShouldBe("success");
    }
}
