using System.Net;
using System.Text.Json.Nodes;
using Heaven.Intake;
using Heaven.Reconciliation;
using Heaven.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Reconciliation;

/// <summary>Several nodes on one PostgreSQL database reconciling at the same moment: one deployment, one delivery.</summary>
[Collection(HeavyHostsCollection.Name)]
public sealed class ReconciliationNodesTests : IAsyncLifetime
{
    private const string Repository = "octo/app";

    private PostgresDatabase database = null!;
    private FakeGitHub gitHub = null!;

    public async Task InitializeAsync()
    {
        database = await PostgresDatabase.CreateAsync();
        gitHub = await FakeGitHub.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await gitHub.DisposeAsync();
        if (database is not null)
        {
            await database.DisposeAsync();
        }
    }

    [PostgresFact]
    public async Task TwoNodesReconcilingAtOnce_TakeAMissedDeploymentInOnce()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Database:Provider"] = "Postgres",
            ["Database:ConnectionString"] = database.ConnectionString,
            ["GitHub:ApiUrl"] = gitHub.ApiUrl,
            ["GitHub:Token"] = DeployHarness.Token,
        };
        await using var first = await HeavenTestHost.StartAsync(settings);
        await using var second = await HeavenTestHost.StartAsync(settings);
        var ping = new JsonObject { ["hook_id"] = 1, ["repository"] = new JsonObject { ["full_name"] = Repository } };
        (await first.SendWebhookAsync("ping", ping.ToJsonString())).StatusCode.ShouldBe(HttpStatusCode.OK);
        var id = gitHub.AddDeployment(Repository, new string('f', 40), "production", new JsonObject
        {
            ["config"] = new JsonObject { ["provider"] = "shell", ["deploy_script"] = "script/deploy" },
        });

        var reports = await Task.WhenAll(
            first.Services.GetRequiredService<Reconciler>().ReconcileAsync(CancellationToken.None),
            second.Services.GetRequiredService<Reconciler>().ReconcileAsync(CancellationToken.None));

        reports.SelectMany(r => r.Problems).ShouldBeEmpty();
        (await first.QueryAsync(db => db.Deployments.CountAsync(d => d.GitHubDeploymentId == id))).ShouldBe(1);
        (await first.QueryAsync(db => db.Deliveries.CountAsync(d => d.DeliveryId == $"reconciled-deployment-{id}"))).ShouldBe(1);
        // Whichever node came second (if it came at all) found the deployment taken in already.
        reports.SelectMany(r => r.Decisions).Count(d => d.Result == DeliveryResult.Accepted).ShouldBe(1);
    }
}
