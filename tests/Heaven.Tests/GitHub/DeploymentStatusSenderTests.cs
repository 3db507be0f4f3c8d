using Heaven.GitHub;
using Heaven.Statuses;
using Heaven.Storage;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Heaven.Tests.GitHub;

/// <summary>
/// The status outbox end to end: Heaven enqueues, the sender posts to a fake GitHub over HTTP, and
/// GitHub failing, rate-limiting or being away loses nothing and reorders nothing.
/// </summary>
public sealed class DeploymentStatusSenderTests : IAsyncLifetime
{
    private const string Token = "ghp_sendertoken0123456789abcdefABCDEF01";
    private const string Repository = "atmos/my-robot";

    private FakeGitHub fake = null!;

    public async Task InitializeAsync() => fake = await FakeGitHub.StartAsync();

    public async Task DisposeAsync() => await fake.DisposeAsync();

    [Fact]
    public async Task StatusesOfADeployment_ArriveInTheOrderTheyWereEnqueued()
    {
        await using var host = await StartHeavenAsync();
        var poster = host.Services.GetRequiredService<IDeploymentStatusPoster>();

        await using (var db = await host.Services.GetRequiredService<IHeavenDatabase>().OpenAsync(CancellationToken.None))
        {
            await poster.EnqueueAsync(db, 1, Repository, 101, Status(GitHubDeploymentState.InProgress, "Deploying"), CancellationToken.None);
            await poster.EnqueueAsync(db, 1, Repository, 101, Status(GitHubDeploymentState.Success, "Deployed"), CancellationToken.None);
            await db.SaveChangesAsync();
        }

        poster.Wake();

        await fake.WaitForStatusAsync(s => s.DeploymentId == 101 && s.State == "success");
        fake.StatusesFor(Repository, 101).Select(s => (s.State, s.Description)).ShouldBe([("in_progress", "Deploying"), ("success", "Deployed")]);
        var items = await WaitForAsync(host, items => items.All(i => i.State != WorkItemState.Pending));
        items.ShouldAllBe(i => i.State == WorkItemState.Done && i.Attempts == 1 && i.CompletedAt != null && i.LastError == null);
        items.Select(i => i.DeploymentId).ShouldBe([1L, 1L]);
    }

    [Fact]
    public async Task EnqueuedButUncommitted_IsNotSent()
    {
        await using var host = await StartHeavenAsync();
        var poster = host.Services.GetRequiredService<IDeploymentStatusPoster>();

        await using (var db = await host.Services.GetRequiredService<IHeavenDatabase>().OpenAsync(CancellationToken.None))
        {
            await using var transaction = await db.Database.BeginTransactionAsync();
            await poster.EnqueueAsync(db, 1, Repository, 101, Status(GitHubDeploymentState.InProgress, "Deploying"), CancellationToken.None);
            await db.SaveChangesAsync();
            await transaction.RollbackAsync();
        }

        poster.Wake();
        await poster.PostAsync(2, Repository, 202, Status(GitHubDeploymentState.Success, "Deployed"), CancellationToken.None);

        await fake.WaitForStatusAsync(s => s.DeploymentId == 202);
        fake.Statuses.ShouldHaveSingleItem().DeploymentId.ShouldBe(202);
    }

    [Fact]
    public async Task AWokenSender_PostsAtOnceWithoutWaitingForThePoll()
    {
        await using var host = await StartHeavenAsync(new() { ["GitHub:StatusDelivery:PollInterval"] = "00:10:00" });
        // The sender's first look at the (empty) outbox happens at start; then it sleeps for ten minutes.
        await host.IdleAsync(OutboxConsumer.StatusSender);

        await host.Services.GetRequiredService<IDeploymentStatusPoster>().PostAsync(1, Repository, 101, Status(GitHubDeploymentState.Success, "Deployed"), CancellationToken.None);

        await fake.WaitForStatusAsync(s => s.DeploymentId == 101);
    }

    [Fact]
    public async Task GitHubFailingThenRecovering_DeliversEachStatusOnceInOrderWithBackoff()
    {
        var clock = new TestClock(DateTimeOffset.UtcNow);
        await using var host = await StartHeavenAsync(new() { ["GitHub:StatusDelivery:PollInterval"] = Step.ToString() }, clock: clock);
        fake.FailNext("statuses", 500, times: 3);

        await EnqueueAsync(host, 1, 101, Status(GitHubDeploymentState.InProgress, "Deploying"), Status(GitHubDeploymentState.Success, "Deployed"));
        await StepUntilAsync(host, clock, () => fake.Statuses.Any(s => s.DeploymentId == 101 && s.State == "success"), "the success status");

        fake.StatusesFor(Repository, 101).Select(s => s.State).ShouldBe(["in_progress", "success"]);
        var attempts = fake.RequestsTo("statuses");
        attempts.Select(a => (a.Json().GetProperty("state").GetString(), a.Status)).ShouldBe(
        [
            ("in_progress", 500), ("in_progress", 500), ("in_progress", 500), ("in_progress", 201), ("success", 201),
        ]);
        // Backoff of 100 ms, doubling, on Heaven's clock: each retry is made the moment it is due, not before.
        attempts.Zip(attempts.Skip(1), (a, b) => b.At - a.At).ShouldBe(
            [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400), TimeSpan.Zero]);
        var items = await WaitForAsync(host, items => items.All(i => i.State != WorkItemState.Pending));
        items.Select(i => (i.State, i.Attempts)).ShouldBe([(WorkItemState.Done, 4), (WorkItemState.Done, 1)]);
    }

    [Fact]
    public async Task RetryAfter_IsWaitedOutBeforeTheNextAttempt()
    {
        var clock = new TestClock(DateTimeOffset.UtcNow);
        await using var host = await StartHeavenAsync(new() { ["GitHub:StatusDelivery:PollInterval"] = Step.ToString() }, clock: clock);
        fake.RateLimitNext("statuses", retryAfterSeconds: 1);

        await EnqueueAsync(host, 1, 101, Status(GitHubDeploymentState.Success, "Deployed"));
        await StepUntilAsync(host, clock, () => fake.Statuses.Any(s => s.DeploymentId == 101), "the status after the rate limit");

        var attempts = fake.RequestsTo("statuses");
        attempts.Select(a => a.Status).ShouldBe([403, 201]);
        // The backoff alone would retry after 100 ms; GitHub asked for a second.
        (attempts[1].At - attempts[0].At).ShouldBe(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task AStatusPendingWhileGitHubIsDown_SurvivesARestartOfHeaven()
    {
        using var directory = new TemporaryDirectory();
        fake.GoDown();
        await using (var first = await StartHeavenAsync(directory: directory))
        {
            await EnqueueAsync(first, 1, 101, Status(GitHubDeploymentState.InProgress, "Deploying"), Status(GitHubDeploymentState.Failure, "Deploy failed"));
            await fake.WaitForRequestsAsync(r => r.Route == "statuses", 2, "two failed attempts");

            var items = await WorkItemsAsync(first);
            items.ShouldAllBe(i => i.State == WorkItemState.Pending);
            items[0].Attempts.ShouldBeGreaterThanOrEqualTo(1);
            items[0].LastError!.ShouldContain("502");
            items[1].Attempts.ShouldBe(0);
        }

        fake.Recover();
        await using var second = await StartHeavenAsync(directory: directory);

        await fake.WaitForStatusAsync(s => s.DeploymentId == 101 && s.State == "failure");
        fake.StatusesFor(Repository, 101).Select(s => s.State).ShouldBe(["in_progress", "failure"]);
        (await WaitForAsync(second, items => items.All(i => i.State != WorkItemState.Pending))).ShouldAllBe(i => i.State == WorkItemState.Done);
    }

    [Fact]
    public async Task ARejectedStatus_EndsFailedAndBlocksNothing()
    {
        await using var host = await StartHeavenAsync();
        fake.FailNext("statuses", 422, message: "Validation Failed");

        await using (var db = await host.Services.GetRequiredService<IHeavenDatabase>().OpenAsync(CancellationToken.None))
        {
            var poster = host.Services.GetRequiredService<IDeploymentStatusPoster>();
            await poster.EnqueueAsync(db, 1, Repository, 101, Status(GitHubDeploymentState.InProgress, "Deploying"), CancellationToken.None);
            await poster.EnqueueAsync(db, 1, Repository, 101, Status(GitHubDeploymentState.Success, "Deployed"), CancellationToken.None);
            await poster.EnqueueAsync(db, 2, Repository, 202, Status(GitHubDeploymentState.Success, "Deployed too"), CancellationToken.None);
            await db.SaveChangesAsync();
            poster.Wake();
        }

        await Poll.UntilAsync(() => fake.Statuses.Count == 2, "FakeGitHub: the two statuses after the rejected one", state: fake.DescribeRequests);
        fake.StatusesFor(Repository, 101).Select(s => s.State).ShouldBe(["success"]);
        fake.StatusesFor(Repository, 202).Select(s => s.State).ShouldBe(["success"]);
        var items = await WaitForAsync(host, items => items.All(i => i.State != WorkItemState.Pending));
        items[0].State.ShouldBe(WorkItemState.Failed);
        items[0].Attempts.ShouldBe(1);
        items[0].CompletedAt.ShouldNotBeNull();
        items[0].LastError!.ShouldContain("422");
        items[0].LastError!.ShouldContain("Validation Failed");
        items[0].LastError!.ShouldNotContain(Token);
        items.Skip(1).ShouldAllBe(i => i.State == WorkItemState.Done);
    }

    [Fact]
    public async Task ALongOutage_EndsInFailedAfterGiveUpAfter()
    {
        await using var host = await StartHeavenAsync(new() { ["GitHub:StatusDelivery:GiveUpAfter"] = "00:00:00.500" });
        fake.GoDown(503);

        await EnqueueAsync(host, 1, 101, Status(GitHubDeploymentState.Success, "Deployed"));

        var item = (await WaitForAsync(host, items => items.Single().State == WorkItemState.Failed)).Single();
        item.LastError!.ShouldStartWith($"Gave up after {item.Attempts} attempts");
        item.LastError.ShouldContain("503");
        fake.Statuses.ShouldBeEmpty();
    }

    [Fact]
    public async Task WithoutAToken_StatusesWaitAndSayWhy()
    {
        await using var host = await StartHeavenAsync(new() { ["GitHub:Token"] = null });

        await EnqueueAsync(host, 1, 101, Status(GitHubDeploymentState.Success, "Deployed"));

        await WaitForAsync(host, items => items.Single().LastError == "GitHub:Token is not set");
        // Idle again after the round that found no token: nothing was sent in it.
        await host.IdleAsync(OutboxConsumer.StatusSender);
        var item = (await WorkItemsAsync(host)).Single();
        (item.State, item.Attempts).ShouldBe((WorkItemState.Pending, 0));
        fake.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task TwoNodesOnOneDatabase_PostEachStatusOnceAndInOrder()
    {
        // Two nodes: each its own data directory (so its own node identity), one database file.
        using var directory = new TemporaryDirectory();
        using var otherDirectory = new TemporaryDirectory();
        await using var first = await StartHeavenAsync(directory: directory);
        await using var second = await StartHeavenAsync(
            new() { ["Database:ConnectionString"] = $"Data Source={Path.Combine(first.DataDirectory, "heaven.db")}" },
            directory: otherDirectory);
        fake.Delay("statuses", TimeSpan.FromMilliseconds(20));

        await using (var db = await first.Services.GetRequiredService<IHeavenDatabase>().OpenAsync(CancellationToken.None))
        {
            var poster = first.Services.GetRequiredService<IDeploymentStatusPoster>();
            for (var deployment = 1; deployment <= 4; deployment++)
            {
                foreach (var state in new[] { GitHubDeploymentState.Queued, GitHubDeploymentState.InProgress, GitHubDeploymentState.Success })
                {
                    await poster.EnqueueAsync(db, deployment, Repository, 100 + deployment, Status(state, $"{state} {deployment}"), CancellationToken.None);
                }
            }

            await db.SaveChangesAsync();
        }

        first.Services.GetRequiredService<IDeploymentStatusPoster>().Wake();
        second.Services.GetRequiredService<IDeploymentStatusPoster>().Wake();

        await Poll.UntilAsync(() => fake.Statuses.Count >= 12, "FakeGitHub: all twelve statuses", state: fake.DescribeRequests);
        // Every item done and both senders idle: whatever either node sent has arrived, and nothing is left to send.
        await WaitForAsync(first, items => items.Count == 12 && items.All(i => i.State == WorkItemState.Done));
        await first.IdleAsync(OutboxConsumer.StatusSender);
        await second.IdleAsync(OutboxConsumer.StatusSender);
        fake.Statuses.Count.ShouldBe(12);
        for (var deployment = 1; deployment <= 4; deployment++)
        {
            fake.StatusesFor(Repository, 100 + deployment).Select(s => s.State).ShouldBe(["queued", "in_progress", "success"]);
        }
    }

    [Fact]
    public void Backoff_DoublesUpToTheCapButNeverUndercutsRetryAfter()
    {
        var options = new StatusDeliveryOptions { RetryBase = TimeSpan.FromSeconds(1), RetryCap = TimeSpan.FromMinutes(5) };

        Enumerable.Range(1, 5).Select(a => options.RetryDelay(a, null).TotalSeconds).ShouldBe([1, 2, 4, 8, 16]);
        options.RetryDelay(9, null).ShouldBe(TimeSpan.FromSeconds(256));
        options.RetryDelay(10, null).ShouldBe(TimeSpan.FromMinutes(5));
        options.RetryDelay(1000, null).ShouldBe(TimeSpan.FromMinutes(5));
        options.RetryDelay(1, TimeSpan.FromSeconds(7)).ShouldBe(TimeSpan.FromSeconds(7));
        options.RetryDelay(5, TimeSpan.FromSeconds(7)).ShouldBe(TimeSpan.FromSeconds(16));
        options.RetryDelay(1, TimeSpan.FromHours(1)).ShouldBe(TimeSpan.FromHours(1));
    }

    [Fact]
    public async Task AMalformedRepository_IsRefusedWhenEnqueued()
    {
        await using var host = await StartHeavenAsync();

        await Should.ThrowAsync<ArgumentException>(() => host.Services.GetRequiredService<IDeploymentStatusPoster>()
            .PostAsync(1, "not a repository", 101, Status(GitHubDeploymentState.Success, "Deployed"), CancellationToken.None));
    }

    /// <summary>The fake clock's step, and the sender's poll interval on it: every step ends in one round of the sender.</summary>
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Moves Heaven's fake clock on, a step at a time, each time waiting for the sender's round (its
    /// poll is one step) to be over, until <paramref name="condition"/> holds. Nothing is sent while the
    /// clock stands still, so every request is stamped (by the fake's clock) with the time it was due.
    /// </summary>
    private async Task StepUntilAsync(HeavenTestHost host, TestClock clock, Func<bool> condition, string what)
    {
        fake.Clock = clock;
        await host.IdleAsync(OutboxConsumer.StatusSender);
        for (var steps = 0; !condition(); steps++)
        {
            if (steps == 500)
            {
                throw new TimeoutException($"Still no {what} after {steps} steps of the fake clock.\n{fake.DescribeRequests()}");
            }

            var idle = host.IdleAsync(OutboxConsumer.StatusSender, next: true);
            clock.Advance(Step);
            await idle;
        }
    }

    private Task<HeavenTestHost> StartHeavenAsync(Dictionary<string, string?>? settings = null, TemporaryDirectory? directory = null, TimeProvider? clock = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["GitHub:Token"] = Token,
            ["GitHub:ApiUrl"] = fake.ApiUrl,
            ["GitHub:RequestTimeout"] = "00:00:05",
            ["GitHub:StatusDelivery:PollInterval"] = "00:00:00.050",
            ["GitHub:StatusDelivery:RetryBase"] = "00:00:00.100",
            ["GitHub:StatusDelivery:RetryCap"] = "00:00:01",
        };
        foreach (var (key, value) in settings ?? [])
        {
            all[key] = value;
        }

        return HeavenTestHost.StartAsync(
            all,
            directory: directory,
            overrideServices: clock is null ? null : services => services.Replace(ServiceDescriptor.Singleton(clock)),
            configure: builder => builder.Services.AddStatuses());
    }

    private static DeploymentStatusRequest Status(GitHubDeploymentState state, string description) =>
        new(state, description, "http://heaven.test/deployments/1", null, "production");

    private static async Task EnqueueAsync(HeavenTestHost host, long deploymentId, long gitHubDeploymentId, params DeploymentStatusRequest[] statuses)
    {
        var poster = host.Services.GetRequiredService<IDeploymentStatusPoster>();
        await using (var db = await host.Services.GetRequiredService<IHeavenDatabase>().OpenAsync(CancellationToken.None))
        {
            foreach (var status in statuses)
            {
                await poster.EnqueueAsync(db, deploymentId, Repository, gitHubDeploymentId, status, CancellationToken.None);
            }

            await db.SaveChangesAsync();
        }

        poster.Wake();
    }

    private static Task<List<WorkItem>> WorkItemsAsync(HeavenTestHost host) =>
        host.QueryAsync(db => db.WorkItems.AsNoTracking().Where(w => w.Kind == WorkItemKinds.PostDeploymentStatus).OrderBy(w => w.Id).ToListAsync());

    /// <summary>The sender records an outcome a moment after GitHub has answered: wait for the rows, not the fake.</summary>
    private static Task<List<WorkItem>> WaitForAsync(HeavenTestHost host, Func<List<WorkItem>, bool> condition) =>
        host.WaitForWorkItemsAsync(WorkItemKinds.PostDeploymentStatus, items => items.Count > 0 && condition(items), "the status work items to reach the expected state");
}
