using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Storage;
using Heaven.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Storage;

/// <summary>
/// Heaven on a real PostgreSQL server (HEAVEN_TEST_POSTGRES, started by ./test.sh): migrations, the
/// original's DATABASE_URL, and two nodes sharing one database. Each test gets a fresh database.
/// </summary>
[Collection(HeavyHostsCollection.Name)]
public sealed class PostgresTests : IAsyncLifetime
{
    private const int Rounds = 20;

    private PostgresDatabase database = null!;

    public async Task InitializeAsync() => database = await PostgresDatabase.CreateAsync();

    public async Task DisposeAsync()
    {
        if (database is not null)
        {
            await database.DisposeAsync();
        }
    }

    private Dictionary<string, string?> PostgresSettings => new()
    {
        ["Database:Provider"] = "Postgres",
        ["Database:ConnectionString"] = database.ConnectionString,
    };

    [PostgresFact]
    public async Task StartsOnPostgres_AndAppliesItsMigrations()
    {
        await using var host = await HeavenTestHost.StartAsync(PostgresSettings);

        host.Services.GetRequiredService<IHeavenDatabase>().Provider.ShouldBe(DatabaseProvider.Postgres);
        var tables = await database.ColumnAsync<string>(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'");
        foreach (var table in new[] { "deliveries", "deployments", "work_items", "webhook_hooks", "__EFMigrationsHistory" })
        {
            tables.ShouldContain(table);
        }

        var applied = await database.ColumnAsync<string>("SELECT \"MigrationId\" FROM \"__EFMigrationsHistory\" ORDER BY \"MigrationId\"");
        var known = await host.QueryAsync(db => Task.FromResult(db.Database.GetMigrations().ToList()));
        known.ShouldNotBeEmpty();
        known.ShouldContain(id => id.EndsWith("_InitialSchema", StringComparison.Ordinal));
        applied.ShouldBe(known);
        File.Exists(Path.Combine(host.DataDirectory, DatabaseOptions.SqliteFileName)).ShouldBeFalse("no SQLite file is made when PostgreSQL is configured");
    }

    [PostgresFact]
    public async Task StartsFromTheOriginalsDatabaseUrl_AndStoresASignedDeployment()
    {
        database.Url.ShouldStartWith("postgres://");
        await using var host = await HeavenTestHost.StartAsync(
            legacyEnvironment: new Dictionary<string, string?> { ["DATABASE_URL"] = database.Url });
        host.Services.GetRequiredService<IHeavenDatabase>().Provider.ShouldBe(DatabaseProvider.Postgres);

        var response = await host.SendWebhookAsync("deployment", Fixtures.Read("deployment.json"));

        var answer = await Answer.ReadAsync(response);
        answer.Status.ShouldBe(HttpStatusCode.Accepted, answer.Message);
        answer.Result.ShouldBe("accepted");
        answer.Deployment.ShouldNotBeNull();

        // Read back with plain SQL, so the row is known to be in PostgreSQL and not anywhere else.
        await using var connection = await database.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT id, repository, git_hub_deployment_id, environment, state, payload_json FROM deployments", connection);
        await using var reader = await command.ExecuteReaderAsync();
        (await reader.ReadAsync()).ShouldBeTrue("the deployment is stored");
        reader.GetInt64(0).ShouldBe(answer.Deployment.Value);
        reader.GetString(1).ShouldBe("atmos/my-robot");
        reader.GetInt64(2).ShouldBe(1875476);
        reader.GetString(3).ShouldBe("production");
        reader.GetString(4).ShouldBe("Queued");
        var payload = JsonNode.Parse(reader.GetString(5))!;
        payload["config"]!["provider"]!.GetValue<string>().ShouldBe("heroku");
        payload["config"]!["environments"]!.AsArray().Select(e => e!.GetValue<string>()).ShouldBe(["production"]);
        payload["notify"]!["room"]!.GetValue<string>().ShouldBe("ops");
        (await reader.ReadAsync()).ShouldBeFalse("exactly one deployment is stored");

        File.Exists(Path.Combine(host.DataDirectory, DatabaseOptions.SqliteFileName)).ShouldBeFalse("DATABASE_URL selects PostgreSQL");
    }

    [PostgresFact]
    public async Task TwoNodes_SameDeploymentWithDifferentDeliveryIdsAtOnce_StoreItOnce()
    {
        var (nodeA, nodeB) = await StartTwoNodesAsync();
        await using var a = nodeA;
        await using var b = nodeB;

        for (var round = 0; round < Rounds; round++)
        {
            var body = DeploymentWithId(9_000_000 + round);
            var answers = await SendToBothAtOnceAsync(a, b, body, Guid.NewGuid().ToString(), Guid.NewGuid().ToString());

            ShouldBeOneAcceptedAndOneDuplicate(answers, $"round {round}");
        }

        (await database.ScalarAsync<long>("SELECT count(*) FROM deployments")).ShouldBe(Rounds);
        (await database.ScalarAsync<long>("SELECT count(DISTINCT git_hub_deployment_id) FROM deployments")).ShouldBe(Rounds);
        (await database.ScalarAsync<long>("SELECT count(*) FROM deliveries")).ShouldBe(2 * Rounds, "both deliveries are logged, one as the duplicate");
        (await database.ScalarAsync<long>("SELECT count(*) FROM deliveries WHERE result = 'Duplicate'")).ShouldBe(Rounds);
    }

    [PostgresFact]
    public async Task TwoNodes_SameDeliveryAtOnce_StoreItOnce()
    {
        var (nodeA, nodeB) = await StartTwoNodesAsync();
        await using var a = nodeA;
        await using var b = nodeB;

        for (var round = 0; round < Rounds; round++)
        {
            var body = DeploymentWithId(8_000_000 + round);
            var delivery = Guid.NewGuid().ToString();
            var answers = await SendToBothAtOnceAsync(a, b, body, delivery, delivery);

            ShouldBeOneAcceptedAndOneDuplicate(answers, $"round {round}");
        }

        (await database.ScalarAsync<long>("SELECT count(*) FROM deployments")).ShouldBe(Rounds);
        (await database.ScalarAsync<long>("SELECT count(*) FROM deliveries")).ShouldBe(Rounds, "a delivery id is logged once");
    }

    [PostgresFact]
    public async Task TwoNodes_ManyDeploymentsAllAtOnce_StoreEachOnce()
    {
        var (nodeA, nodeB) = await StartTwoNodesAsync();
        await using var a = nodeA;
        await using var b = nodeB;

        // Everything in flight together: each node groups its deliveries into one transaction, and
        // those transactions collide with the other node's on the unique keys.
        var bodies = Enumerable.Range(0, Rounds).Select(i => DeploymentWithId(7_000_000 + i)).ToList();
        var sends = bodies.SelectMany(body =>
        {
            var shared = Guid.NewGuid().ToString();
            return new[]
            {
                a.SendWebhookAsync("deployment", body, Guid.NewGuid().ToString()),
                b.SendWebhookAsync("deployment", body, Guid.NewGuid().ToString()),
                a.SendWebhookAsync("deployment", body, shared),
                b.SendWebhookAsync("deployment", body, shared),
            };
        }).ToList();
        var answers = await Task.WhenAll((await Task.WhenAll(sends)).Select(Answer.ReadAsync));

        for (var i = 0; i < Rounds; i++)
        {
            var four = answers.Skip(4 * i).Take(4).ToList();
            four.ShouldAllBe(x => x.Status == HttpStatusCode.Accepted || x.Status == HttpStatusCode.OK, $"deployment {i}: {Describe(four)}");
            four.Count(x => x.Result == "accepted").ShouldBe(1, $"deployment {i}: {Describe(four)}");
            four.Count(x => x.Result == "duplicate").ShouldBe(3, $"deployment {i}: {Describe(four)}");
            four.Select(x => x.Deployment).Distinct().ShouldHaveSingleItem($"deployment {i}: {Describe(four)}").ShouldNotBeNull();
        }

        (await database.ScalarAsync<long>("SELECT count(*) FROM deployments")).ShouldBe(Rounds);
        (await database.ScalarAsync<long>("SELECT count(*) FROM deliveries")).ShouldBe(3 * Rounds);
    }

    /// <summary>Two Heaven nodes, each with its own data directory, on the same database, started (and migrating) at once.</summary>
    private async Task<(HeavenTestHost A, HeavenTestHost B)> StartTwoNodesAsync()
    {
        var starting = new[] { HeavenTestHost.StartAsync(PostgresSettings), HeavenTestHost.StartAsync(PostgresSettings) };
        try
        {
            await Task.WhenAll(starting);
        }
        catch
        {
            foreach (var node in starting.Where(t => t.IsCompletedSuccessfully))
            {
                await node.Result.DisposeAsync();
            }

            throw;
        }

        var (a, b) = (starting[0].Result, starting[1].Result);
        a.DataDirectory.ShouldNotBe(b.DataDirectory);

        // Warm connections, so both deliveries of a round leave at the same moment.
        (await a.Client.GetAsync("/healthz")).EnsureSuccessStatusCode();
        (await b.Client.GetAsync("/healthz")).EnsureSuccessStatusCode();
        return (a, b);
    }

    private static async Task<Answer[]> SendToBothAtOnceAsync(HeavenTestHost a, HeavenTestHost b, string body, string deliveryA, string deliveryB)
    {
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sendA = Task.Run(async () => { await go.Task; return await a.SendWebhookAsync("deployment", body, deliveryA); });
        var sendB = Task.Run(async () => { await go.Task; return await b.SendWebhookAsync("deployment", body, deliveryB); });
        go.SetResult();
        var responses = await Task.WhenAll(sendA, sendB);
        return await Task.WhenAll(responses.Select(Answer.ReadAsync));
    }

    private static void ShouldBeOneAcceptedAndOneDuplicate(Answer[] answers, string context)
    {
        var detail = $"{context}: {Describe(answers)}";
        answers.Select(x => x.Status).OrderBy(s => s).ToArray().ShouldBe(new[] { HttpStatusCode.OK, HttpStatusCode.Accepted }, detail);
        answers.Single(x => x.Status == HttpStatusCode.Accepted).Result.ShouldBe("accepted", detail);
        answers.Single(x => x.Status == HttpStatusCode.OK).Result.ShouldBe("duplicate", detail);
        answers[0].Deployment.ShouldNotBeNull(detail);
        answers[1].Deployment.ShouldBe(answers[0].Deployment, detail);
    }

    private static string DeploymentWithId(long id)
    {
        var payload = JsonNode.Parse(Fixtures.Read("deployment.json"))!;
        payload["deployment"]!["id"] = id;
        return payload.ToJsonString();
    }

    private static string Describe(IEnumerable<Answer> answers) =>
        string.Join("; ", answers.Select(x => $"{(int)x.Status} {x.Result} deployment={x.Deployment} \"{x.Message}\""));

    private sealed record Answer(HttpStatusCode Status, string Result, string Message, long? Deployment)
    {
        public static async Task<Answer> ReadAsync(HttpResponseMessage response)
        {
            using (response)
            {
                var text = await response.Content.ReadAsStringAsync();
                using var json = JsonDocument.Parse(text);
                var root = json.RootElement;
                return new Answer(
                    response.StatusCode,
                    root.GetProperty("result").GetString()!,
                    root.GetProperty("message").GetString()!,
                    root.TryGetProperty("deployment", out var id) && id.ValueKind == JsonValueKind.Number ? id.GetInt64() : null);
            }
        }
    }
}
