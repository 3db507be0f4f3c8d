using Heaven.Model;
using Heaven.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Tests.Output;

/// <summary>The deployment a log-following test follows: recorded as running, later marked finished.</summary>
internal static class FollowedDeployments
{
    public static Task<long> AddRunningAsync(HeavenTestHost host) => host.QueryAsync(async db =>
    {
        var now = DateTime.UtcNow;
        var deployment = new DeploymentRecord
        {
            GitHubDeploymentId = Random.Shared.NextInt64(1, long.MaxValue),
            Repository = "octo/app",
            CloneUrl = "https://github.com/octo/app.git",
            Ref = "master",
            Sha = new string('a', 40),
            Task = "deploy",
            Environment = "production",
            PayloadJson = """{"config":{"provider":"shell"}}""",
            DeliveryId = Guid.NewGuid().ToString(),
            ReceivedAt = now,
            StateChangedAt = now,
            StartedAt = now,
            App = "app",
            ExclusivityKey = ExclusivityKey.KeyOf("octo/app", "app", "production"),
            State = DeploymentState.Running,
        };
        db.Deployments.Add(deployment);
        await db.SaveChangesAsync();
        return deployment.Id;
    });

    public static Task FinishAsync(HeavenTestHost host, long id) => host.QueryAsync(db =>
        db.Deployments.Where(d => d.Id == id).ExecuteUpdateAsync(set => set
            .SetProperty(d => d.State, DeploymentState.Succeeded)
            .SetProperty(d => d.StatusDescription, "Deployed")));
}
