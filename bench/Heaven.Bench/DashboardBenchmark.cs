using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using Heaven.Access;
using Heaven.Hosting;
using Heaven.Model;
using Heaven.Operations;
using Heaven.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Bench;

/// <summary>
/// The dashboard's read model on SQLite: 500 repositories × 5 environments and 100,000 deployments
/// (40 an environment: mostly successes, some failures, lock tasks, a running and a waiting one here and
/// there), then the dashboard's read model as its first page uses it (the repository order, then
/// <see cref="DeploymentQueries.DashboardAsync(IReadOnlyList{string}, CancellationToken)"/> for the 50
/// most recently deployed) and the deployment lists timed over many runs in-process, and the first page a
/// user sees (<c>GET /</c> with a read token, the whole HTML read) over HTTP on the loopback. Target:
/// dashboard p95 under 100 ms.
/// </summary>
internal static class DashboardBenchmark
{
    private const int Repositories = 500;
    private const int Environments = 5;
    private const int Deployments = 100_000;
    private const int DashboardRuns = 60;
    private const int ListRuns = 300;
    private const int PageSize = Heaven.Web.Pages.DashboardPage.PageSize;

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var loadBefore = LoadAverage();
        var root = Path.Combine(Path.GetTempPath(), "heaven-bench", Guid.NewGuid().ToString("N"));
        try
        {
            var builder = HeavenApp.CreateBuilder(["--urls", "http://127.0.0.1:0"], new Dictionary<string, string?>());
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["DataDirectory"] = Path.Combine(root, "data"),
                ["Webhooks:Secret"] = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
                ["Deployments:MaxParallel"] = "0",
                ["Logging:LogLevel:Default"] = options.ServerLogLevel,
            });
            await using var app = HeavenApp.Build(builder);
            await HeavenApp.PrepareAsync(app, CancellationToken.None);
            await app.StartAsync();

            var fill = Stopwatch.StartNew();
            await FillAsync(app.Services.GetRequiredService<IHeavenDatabase>());
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"filled {Deployments:N0} deployments in {fill.Elapsed.TotalSeconds:0.0} s"));

            var queries = app.Services.GetRequiredService<DeploymentQueries>();
            var token = await app.Services.GetRequiredService<ApiTokens>().CreateAsync("dashboard-bench", TokenScope.Read, null, "bench", CancellationToken.None);
            using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.Text);
            var pageBytes = 0;
            var page = await TimeAsync(DashboardRuns, async () =>
            {
                using var response = await http.GetAsync("/");
                response.EnsureSuccessStatusCode();
                var html = await response.Content.ReadAsStringAsync();
                pageBytes = html.Length;
                return html.Split("<section class=\"repository\">").Length - 1;
            });
            var dashboard = await TimeAsync(DashboardRuns, async () =>
            {
                var names = await queries.DashboardRepositoriesAsync(null, CancellationToken.None);
                return (await queries.DashboardAsync(names.Take(PageSize).ToList(), CancellationToken.None)).Repositories.Count;
            });
            var newest = await TimeAsync(ListRuns, async () => (await queries.ListAsync(new DeploymentFilter(), CancellationToken.None)).Count);
            var random = new Random(7);
            var ofRepository = await TimeAsync(ListRuns, async () => (await queries.ListAsync(new DeploymentFilter { Repository = Repo(random.Next(Repositories)) }, CancellationToken.None)).Count);
            var history = await TimeAsync(ListRuns, async () => (await queries.EnvironmentAsync(Repo(random.Next(Repositories)), Env(random.Next(Environments)), null, CancellationToken.None)).Deployments.Count);
            await app.StopAsync();

            Console.Out.WriteLine("| Query (SQLite, 500 repositories × 5 environments, 100,000 deployments) | Runs | Rows | p50 ms | p95 ms | max ms |");
            Console.Out.WriteLine("|---|---:|---:|---:|---:|---:|");
            Print("`DashboardRepositoriesAsync` + `DashboardAsync` of the first page (50 repositories)", dashboard);
            Print(string.Create(CultureInfo.InvariantCulture, $"`GET /` dashboard first page, read token, whole page read ({pageBytes / 1024.0:N0} KB)"), page);
            Print("`ListAsync` newest 50", newest);
            Print("`ListAsync` one repository, newest 50", ofRepository);
            Print("`EnvironmentAsync` one environment's first page", history);
            // Absolute, not a ratio to a baseline: 100 ms is what a person waiting for the page notices,
            // whatever the machine; a bare query or endpoint would not bound what that person waits.
            Console.Out.WriteLine();
            Console.Out.WriteLine("| Check | Target | Measured | Met |");
            Console.Out.WriteLine("|---|---|---:|---|");
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| read model of the first page, p95 | < 100 ms (absolute: a user-facing latency budget) | {dashboard.P95:0.0} ms | {(dashboard.P95 < 100 ? "met" : "**not met**")} |"));
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| `GET /` first page, p95 | < 100 ms (absolute: a user-facing latency budget) | {page.P95:0.0} ms | {(page.P95 < 100 ? "met" : "**not met**")} |"));
            Console.Out.WriteLine();
            Console.Out.WriteLine($"Load average (1, 5, 15 min): {loadBefore} before the fill, {LoadAverage()} at the end.");
            return dashboard.P95 < 100 && page.P95 < 100 ? 0 : 1;
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    private static string Repo(int i) => string.Create(CultureInfo.InvariantCulture, $"org{i % 20}/service-{i:000}");

    private static string Env(int i) => i switch { 0 => "production", 1 => "staging", 2 => "qa", 3 => "canary", _ => "demo" };

    private static async Task FillAsync(IHeavenDatabase database)
    {
        var start = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var random = new Random(42);
        const int perEnvironment = Deployments / (Repositories * Environments);
        const int batch = 5_000;
        var rows = new List<DeploymentRecord>(batch);
        var id = 0;
        for (var round = 0; round < perEnvironment; round++)
        {
            for (var r = 0; r < Repositories; r++)
            {
                for (var e = 0; e < Environments; e++)
                {
                    id++;
                    var last = round == perEnvironment - 1;
                    var state = last && (r + e) % 10 == 0 ? DeploymentState.Running
                        : last && (r + e) % 10 == 1 ? DeploymentState.Queued
                        : random.Next(100) switch { < 80 => DeploymentState.Succeeded, < 95 => DeploymentState.Failed, < 98 => DeploymentState.Errored, _ => DeploymentState.Rejected };
                    var lockTask = !last && random.Next(100) == 0;
                    var repository = Repo(r);
                    var environment = Env(e);
                    var app = repository.Split('/')[1];
                    var at = start.AddSeconds(id * 30);
                    var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA1.HashData(BitConverter.GetBytes(id)));
                    rows.Add(new DeploymentRecord
                    {
                        GitHubDeploymentId = 1_000_000 + id,
                        Repository = repository,
                        CloneUrl = $"https://github.com/{repository}.git",
                        Ref = "main",
                        Sha = sha,
                        Task = lockTask ? "deploy:lock" : "deploy",
                        Environment = environment,
                        PayloadJson = """{"config":{"provider":"capistrano"},"notify":{"room":"ops","user":"alice","adapter":"slack"}}""",
                        Description = "Deploying from hubot-deploy",
                        CreatorLogin = "hubot",
                        Deployer = "alice",
                        DeliveryId = Guid.NewGuid().ToString(),
                        ReceivedAt = at,
                        App = app,
                        ExclusivityKey = ExclusivityKey.KeyOf(repository, app, environment),
                        State = lockTask ? DeploymentState.Succeeded : state,
                        StateChangedAt = at,
                        StartedAt = state == DeploymentState.Queued ? null : at.AddSeconds(1),
                        FinishedAt = state is DeploymentState.Queued or DeploymentState.Running ? null : at.AddSeconds(20),
                        Provider = lockTask || state == DeploymentState.Queued ? null : "capistrano",
                        StatusDescription = state == DeploymentState.Succeeded ? $"Deployed {sha[..8]} to {environment} in 19s" : "failed",
                    });
                    if (rows.Count == batch)
                    {
                        await SaveAsync(database, rows);
                    }
                }
            }
        }

        await SaveAsync(database, rows);
    }

    private static async Task SaveAsync(IHeavenDatabase database, List<DeploymentRecord> rows)
    {
        await using var db = await database.OpenAsync(CancellationToken.None);
        db.ChangeTracker.AutoDetectChangesEnabled = false;
        db.Deployments.AddRange(rows);
        await db.SaveChangesAsync();
        rows.Clear();
    }

    private static async Task<Timing> TimeAsync(int runs, Func<Task<int>> query)
    {
        // Warm-up: compiled queries, the page cache.
        var count = 0;
        for (var i = 0; i < 3; i++)
        {
            count = await query();
        }

        var times = new List<double>(runs);
        for (var i = 0; i < runs; i++)
        {
            var started = Stopwatch.GetTimestamp();
            count = await query();
            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        times.Sort();
        double Percentile(double p) => times[Math.Clamp((int)Math.Ceiling(p * times.Count) - 1, 0, times.Count - 1)];
        return new Timing(runs, count, Percentile(0.5), Percentile(0.95), times[^1]);
    }

    private static void Print(string what, Timing t) =>
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {what} | {t.Runs} | {t.Rows:N0} | {t.P50:0.0} | {t.P95:0.0} | {t.Max:0.0} |"));

    private sealed record Timing(int Runs, int Rows, double P50, double P95, double Max);
}
