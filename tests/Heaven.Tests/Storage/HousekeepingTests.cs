using System.Globalization;
using Heaven.AutoDeploy;
using Heaven.Intake;
using Heaven.Model;
using Heaven.Output;
using Heaven.Retention;
using Heaven.Tests.Infrastructure;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Storage;

/// <summary>Old bookkeeping rows go after their retention; pending work, deployments and (by default) logs stay.</summary>
public sealed class HousekeepingTests
{
    private static readonly DateTime Now = DateTime.UtcNow;

    [Fact]
    public async Task RowsPastTheirRetention_AreDeleted_PendingWorkAndHistoryAreKept()
    {
        await using var host = await HeavenTestHost.StartAsync();
        await ShouldCleanUpAsync(host);
    }

    [PostgresFact]
    public async Task OnPostgres_RowsPastTheirRetention_AreDeleted_PendingWorkAndHistoryAreKept()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await using var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Database:Provider"] = "Postgres",
            ["Database:ConnectionString"] = database.ConnectionString,
        });
        await ShouldCleanUpAsync(host);
    }

    private static async Task ShouldCleanUpAsync(HeavenTestHost host)
    {
        await SeedAsync(host);

        var deleted = await host.Services.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);

        deleted.ShouldBe(3);
        (await host.QueryAsync(db => db.Deliveries.Select(d => d.DeliveryId).ToListAsync())).ShouldBe(["new-delivery"]);
        (await host.QueryAsync(db => db.WorkItems.OrderBy(w => w.Id).Select(w => w.Kind).ToListAsync())).ShouldBe(["old-but-pending", "new-done"]);
        (await host.QueryAsync(db => db.AutoDeployDecisions.Select(d => d.Reason).ToListAsync())).ShouldBe(["new"]);
        // Deployment history and its logs are kept unless a log retention is set.
        (await host.QueryAsync(db => db.Deployments.CountAsync())).ShouldBe(2);
        (await host.QueryAsync(db => db.LogChunks.CountAsync())).ShouldBe(2);
    }

    [Fact]
    public async Task ALogRetention_DeletesTheOutputOfOldDeploymentsOnly_AndEmptyKeepsForever()
    {
        await using var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Retention:DeploymentLogs"] = "7.00:00:00",
            ["Retention:Deliveries"] = "",
        });
        var (oldDeployment, newDeployment) = await SeedAsync(host);

        await host.Services.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);

        // The old deployment's output is gone; a notice saying so stands in its place.
        (await host.QueryAsync(db => db.LogChunks.Where(c => c.Sequence != Housekeeping.RemovedLogNoticeSequence).Select(c => c.DeploymentId).ToListAsync())).ShouldBe([newDeployment]);
        (await host.QueryAsync(db => db.LogChunks.Where(c => c.Sequence == Housekeeping.RemovedLogNoticeSequence).Select(c => c.DeploymentId).ToListAsync())).ShouldBe([oldDeployment]);
        (await host.QueryAsync(db => db.Deployments.Select(d => d.Id).OrderBy(id => id).ToListAsync())).ShouldBe([oldDeployment, newDeployment]);
        (await host.QueryAsync(db => db.Deliveries.CountAsync())).ShouldBe(2);
    }

    [Theory]
    [InlineData("Retention:WorkItems")]
    [InlineData("Retention:Logs")]
    [InlineData("Retention:Mirrors")]
    public async Task ARetentionShorterThanAnHour_StopsTheStart(string setting)
    {
        var failure = await Should.ThrowAsync<Exception>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?> { [setting] = "00:05:00" }));

        failure.ToString().ShouldContain($"{setting} must be at least an hour");
    }

    [Fact]
    public async Task LogsOlderThanTheDefault90Days_AreRemoved_AndHeavenLogSaysSo()
    {
        await using var host = await HeavenTestHost.StartAsync();
        var (old, recent) = await SeedLogsAsync(host, TimeSpan.FromDays(91), TimeSpan.FromDays(89));

        await host.Services.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);

        var removed = await Heaven.Tests.Cli.HeavenCliTests.RunAsync("log", old.ToString(CultureInfo.InvariantCulture), "--DataDirectory", host.DataDirectory);
        var kept = await Heaven.Tests.Cli.HeavenCliTests.RunAsync("log", recent.ToString(CultureInfo.InvariantCulture), "--DataDirectory", host.DataDirectory);
        removed.Exit.ShouldBe(0, removed.Error);
        removed.Output.ShouldBe($"--> This log was removed on {DateTime.UtcNow:yyyy-MM-dd}: deploy logs are kept 90 days after a deployment finishes (Retention:Logs).\n");
        kept.Output.ShouldContain("output of the deployment");
        // A second round finds nothing more to do and leaves the notice alone.
        (await host.Services.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None)).ShouldBe(0);
        (await host.QueryAsync(db => db.LogChunks.CountAsync(c => c.DeploymentId == old))).ShouldBe(1);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task TheGistOfARemovedLog_IsDeletedAtGitHub_OnlyWithDeleteGists(bool deleteGists)
    {
        await using var github = await FakeGitHub.StartAsync();
        using var http = new HttpClient();
        var created = await http.PostAsync(github.ApiUrl + "gists", new StringContent("""{"description":"log","public":false,"files":{"log.txt":{"content":"x"}}}"""));
        var gistId = System.Text.Json.JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        await using var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["GitHub:Token"] = "ghp_retentionTestToken0123456789abcdef",
            ["GitHub:ApiUrl"] = github.ApiUrl,
            ["Retention:DeleteGists"] = deleteGists ? "true" : "false",
        });
        var (old, _) = await SeedLogsAsync(host, TimeSpan.FromDays(100), TimeSpan.FromDays(1), gistId);

        await host.Services.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);

        var items = await host.QueryAsync(db => db.WorkItems.Where(w => w.Kind == "delete_gist").ToListAsync());
        if (deleteGists)
        {
            var deletions = await github.WaitForRequestsAsync(r => r.Method == "DELETE", 1, "the gist's deletion");
            deletions.Select(r => r.Path).ShouldBe([$"/gists/{gistId}"]);
            github.Gists.ShouldNotContainKey(gistId);
            items.Single().DeploymentId.ShouldBe(old);
            (await host.QueryAsync(db => db.Deployments.Where(d => d.Id == old).Select(d => d.GistUrl).SingleAsync())).ShouldBeNull();
        }
        else
        {
            items.ShouldBeEmpty();
            github.Gists.ShouldContainKey(gistId);
            github.Requests.ShouldNotContain(r => r.Method == "DELETE");
            (await host.QueryAsync(db => db.Deployments.Where(d => d.Id == old).Select(d => d.GistId).SingleAsync())).ShouldBe(gistId);
        }
    }

    [PostgresFact]
    public async Task OnPostgres_OldLogsGiveWayToTheNotice_AndTheirGistsAreDeleted()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await using var github = await FakeGitHub.StartAsync();
        using var http = new HttpClient();
        var created = await http.PostAsync(github.ApiUrl + "gists", new StringContent("""{"description":"log","public":false,"files":{"log.txt":{"content":"x"}}}"""));
        var gistId = System.Text.Json.JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        await using var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Database:Provider"] = "Postgres",
            ["Database:ConnectionString"] = database.ConnectionString,
            ["GitHub:Token"] = "ghp_retentionTestToken0123456789abcdef",
            ["GitHub:ApiUrl"] = github.ApiUrl,
            ["Retention:DeleteGists"] = "true",
        });
        var (old, recent) = await SeedLogsAsync(host, TimeSpan.FromDays(100), TimeSpan.FromDays(1), gistId);

        await host.Services.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);

        (await github.WaitForRequestsAsync(r => r.Method == "DELETE", 1, "the gist's deletion")).Single().Path.ShouldBe($"/gists/{gistId}");
        (await host.QueryAsync(db => db.LogChunks.Where(c => c.DeploymentId == old).Select(c => c.Sequence).ToListAsync())).ShouldBe([Housekeeping.RemovedLogNoticeSequence]);
        (await host.QueryAsync(db => db.LogChunks.CountAsync(c => c.DeploymentId == recent))).ShouldBe(1);
        (await host.QueryAsync(db => db.Deployments.Where(d => d.Id == old).Select(d => d.GistId).SingleAsync())).ShouldBeNull();
    }

    [Fact]
    public async Task AGistDeletionGitHubFailsAt_IsRetried_WhileTheCleanUpGoesOn()
    {
        await using var github = await FakeGitHub.StartAsync();
        using var http = new HttpClient();
        var created = await http.PostAsync(github.ApiUrl + "gists", new StringContent("""{"description":"log","public":false,"files":{"log.txt":{"content":"x"}}}"""));
        var gistId = System.Text.Json.JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        github.FailNext("gist-delete", 502, times: 2);
        await using var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["GitHub:Token"] = "ghp_retentionTestToken0123456789abcdef",
            ["GitHub:ApiUrl"] = github.ApiUrl,
            ["GitHub:StatusDelivery:RetryBase"] = "00:00:00.050",
            ["GitHub:StatusDelivery:PollInterval"] = "00:00:00.050",
            ["Retention:DeleteGists"] = "true",
        });
        var (old, _) = await SeedLogsAsync(host, TimeSpan.FromDays(100), TimeSpan.FromDays(1), gistId);

        // Returns without waiting for GitHub: the deletion is the outbox's to finish.
        await host.Services.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);
        (await host.QueryAsync(db => db.LogChunks.CountAsync(c => c.DeploymentId == old))).ShouldBe(1);

        var deletions = await github.WaitForRequestsAsync(r => r.Method == "DELETE" && r.Status == 204, 1, "the gist's deletion after two failures");
        github.Requests.Where(r => r.Method == "DELETE").Select(r => r.Status).ShouldBe([502, 502, 204]);
        deletions.Single().Path.ShouldBe($"/gists/{gistId}");
        github.Gists.ShouldNotContainKey(gistId);
    }

    [Fact]
    public async Task TheMirrorOfARepositoryNotDeployedFor30Days_IsRemoved_RecentAndQueuedOnesStay()
    {
        await using var host = await HeavenTestHost.StartAsync();
        var longAgo = DateTime.UtcNow - TimeSpan.FromDays(40);
        var oldMirror = FakeMirror(host, "octo", "old", longAgo);
        var recentMirror = FakeMirror(host, "octo", "recent", DateTime.UtcNow);
        var queuedMirror = FakeMirror(host, "octo", "queued", longAgo);
        await host.QueryAsync(async db =>
        {
            var queued = Deployment(longAgo, "octo/Queued");
            queued.State = DeploymentState.Queued;
            queued.FinishedAt = null;
            db.Deployments.AddRange(Deployment(longAgo, "octo/old"), queued);
            return await db.SaveChangesAsync();
        });

        await host.Services.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);

        Directory.EnumerateFileSystemEntries(oldMirror).Select(Path.GetFileName).ShouldBe(["heaven.lock"]);
        File.Exists(Path.Combine(recentMirror, "HEAD")).ShouldBeTrue();
        File.Exists(Path.Combine(queuedMirror, "HEAD")).ShouldBeTrue();
        Directory.Exists(Path.Combine(queuedMirror, "objects")).ShouldBeTrue();
    }

    [Fact]
    public async Task RemovingManyLogs_ShrinksTheSqliteFile()
    {
        await using var host = await HeavenTestHost.StartAsync();
        var file = Path.Combine(host.DataDirectory, "heaven.db");
        await host.QueryAsync(async db =>
        {
            var deployment = Deployment(DateTime.UtcNow - TimeSpan.FromDays(120));
            db.Deployments.Add(deployment);
            await db.SaveChangesAsync();
            var line = "o" + new string('x', 1000) + "\n";
            for (var i = 0; i < 300; i++)
            {
                db.LogChunks.Add(new DeploymentLogChunk { DeploymentId = deployment.Id, Sequence = i, FirstLine = i * 20L, LineCount = 20, Content = string.Concat(Enumerable.Repeat(line, 20)), CreatedAt = DateTime.UtcNow });
            }

            await db.SaveChangesAsync();
            return await db.Database.ExecuteSqlRawAsync("PRAGMA wal_checkpoint(TRUNCATE);");
        });
        var before = new FileInfo(file).Length;

        await host.Services.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);

        var after = new FileInfo(file).Length;
        before.ShouldBeGreaterThan(5_000_000);
        after.ShouldBeLessThan(before / 4, $"{before} bytes before, {after} after");
    }

    private static string FakeMirror(HeavenTestHost host, string owner, string name, DateTime lastWrite)
    {
        var mirror = Path.Combine(host.DataDirectory, "repositories", owner, name + ".git");
        Directory.CreateDirectory(Path.Combine(mirror, "objects", "pack"));
        File.WriteAllText(Path.Combine(mirror, "HEAD"), "ref: refs/heads/main\n");
        File.WriteAllText(Path.Combine(mirror, "config"), "[core]\n\tbare = true\n");
        File.WriteAllText(Path.Combine(mirror, "heaven.lock"), "");
        foreach (var path in Directory.EnumerateFileSystemEntries(mirror, "*", SearchOption.AllDirectories).Append(mirror))
        {
            File.SetLastWriteTimeUtc(path, lastWrite);
        }

        return mirror;
    }

    private static async Task<(long Old, long Recent)> SeedLogsAsync(HeavenTestHost host, TimeSpan oldAge, TimeSpan recentAge, string? gistId = null) =>
        await host.QueryAsync(async db =>
        {
            var old = Deployment(DateTime.UtcNow - oldAge);
            (old.GistId, old.GistUrl) = (gistId, gistId is null ? null : $"https://gist.example/{gistId}");
            var recent = Deployment(DateTime.UtcNow - recentAge);
            db.Deployments.AddRange(old, recent);
            await db.SaveChangesAsync();
            foreach (var deployment in new[] { old, recent })
            {
                db.LogChunks.Add(new DeploymentLogChunk { DeploymentId = deployment.Id, Sequence = 0, FirstLine = 0, LineCount = 2, Content = "houtput of the deployment\noline two\n", CreatedAt = deployment.FinishedAt!.Value });
            }

            await db.SaveChangesAsync();
            return (old.Id, recent.Id);
        });

    private static async Task<(long Old, long New)> SeedAsync(HeavenTestHost host)
    {
        var old = Now - TimeSpan.FromDays(100);
        var recent = Now - TimeSpan.FromDays(1);
        return await host.QueryAsync(async db =>
        {
            db.Deliveries.Add(new Delivery { DeliveryId = "old-delivery", Event = "ping", Message = "old", ReceivedAt = old });
            db.Deliveries.Add(new Delivery { DeliveryId = "new-delivery", Event = "ping", Message = "new", ReceivedAt = recent });
            db.WorkItems.Add(new WorkItem { Kind = "old-done", PayloadJson = "{}", State = WorkItemState.Done, CreatedAt = old, CompletedAt = old });
            db.WorkItems.Add(new WorkItem { Kind = "old-but-pending", PayloadJson = "{}", State = WorkItemState.Pending, CreatedAt = old, NotBefore = old });
            db.WorkItems.Add(new WorkItem { Kind = "new-done", PayloadJson = "{}", State = WorkItemState.Done, CreatedAt = recent, CompletedAt = recent });
            db.AutoDeployDecisions.Add(Decision("old", old));
            db.AutoDeployDecisions.Add(Decision("new", recent));
            var oldDeployment = Deployment(finishedAt: Now - TimeSpan.FromDays(10));
            var newDeployment = Deployment(finishedAt: recent);
            db.Deployments.AddRange(oldDeployment, newDeployment);
            await db.SaveChangesAsync();
            db.LogChunks.Add(new DeploymentLogChunk { DeploymentId = oldDeployment.Id, Sequence = 0, Content = "old output\n", LineCount = 1, CreatedAt = old });
            db.LogChunks.Add(new DeploymentLogChunk { DeploymentId = newDeployment.Id, Sequence = 0, Content = "new output\n", LineCount = 1, CreatedAt = recent });
            await db.SaveChangesAsync();
            return (oldDeployment.Id, newDeployment.Id);
        });
    }

    private static AutoDeployDecision Decision(string reason, DateTime at) => new()
    {
        Repository = "octo/app",
        Sha = reason.PadRight(40, '0'),
        Environment = "production",
        Outcome = AutoDeployOutcome.Skipped,
        Reason = reason,
        Trigger = "status ci success",
        DecidedAt = at,
        DeployKey = AutoDeployDecision.KeyOf("octo/app", "production", reason),
    };

    private static DeploymentRecord Deployment(DateTime finishedAt, string repository = "octo/app") => new()
    {
        GitHubDeploymentId = Random.Shared.NextInt64(1, long.MaxValue),
        Repository = repository,
        CloneUrl = "https://github.com/octo/app.git",
        Ref = "main",
        Sha = new string('a', 40),
        Task = "deploy",
        Environment = "production",
        PayloadJson = "{}",
        DeliveryId = Guid.NewGuid().ToString(),
        App = "app",
        ExclusivityKey = Heaven.Model.ExclusivityKey.KeyOf("octo/app", "app", "production"),
        State = DeploymentState.Succeeded,
        ReceivedAt = finishedAt,
        StateChangedAt = finishedAt,
        FinishedAt = finishedAt,
    };
}
