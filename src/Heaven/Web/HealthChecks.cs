using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Heaven.Checkout;
using Heaven.Configuration;
using Heaven.Deployments;
using Heaven.Execution;
using Heaven.Storage;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Heaven.Web;

/// <summary>
/// <c>/healthz</c>: 200 when Heaven can do its job, 503 naming each check that fails. A draining node
/// (<c>heaven drain</c>, or stopping after SIGTERM) still answers 200, with <c>"draining": true</c>: it
/// keeps recording webhooks, so a load balancer should keep sending them.
/// </summary>
internal static class HealthEndpoints
{
    public const string Path = "/healthz";

    public static IServiceCollection AddHeavenHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database")
            .AddCheck<DataDirectoryHealthCheck>("data-directory")
            .AddCheck<GitHealthCheck>("git")
            .AddCheck<IsolationHealthCheck>("isolation")
            .AddCheck<DrainHealthCheck>(DrainHealthCheck.Name);
        return services;
    }

    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapHealthChecks(Path, new HealthCheckOptions { ResponseWriter = WriteAsync });

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new Dictionary<string, object>
        {
            ["status"] = report.Status == HealthStatus.Healthy ? "healthy" : "unhealthy",
            ["draining"] = report.Entries.TryGetValue(DrainHealthCheck.Name, out var drain) && drain.Data.ContainsKey(DrainHealthCheck.Name),
            ["checks"] = report.Entries.ToDictionary(
                e => e.Key,
                e => e.Value.Status == HealthStatus.Healthy ? "ok" : e.Value.Description ?? e.Value.Exception?.Message ?? "failing"),
            ["details"] = report.Entries.Where(e => e.Value.Status == HealthStatus.Healthy && e.Value.Description is not null)
                .ToDictionary(e => e.Key, e => e.Value.Description!),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body));
    }
}

internal sealed class DatabaseHealthCheck(IHeavenDatabase database) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            await using var db = await database.OpenAsync(timeout.Token);
            return await db.Database.CanConnectAsync(timeout.Token)
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"the {database.Provider} database cannot be reached");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The exception text may carry connection details; name the engine and the kind of failure only.
            return HealthCheckResult.Unhealthy($"the {database.Provider} database cannot be reached ({e.GetType().Name})");
        }
    }
}

/// <summary>Whether this node starts deployments: healthy either way, saying why it does not when it is draining.</summary>
internal sealed class DrainHealthCheck(NodeDrains drains, DeploymentDispatcher dispatcher) : IHealthCheck
{
    public const string Name = "draining";

    private static readonly Dictionary<string, object> Draining = new() { [Name] = true };

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (dispatcher.Stopping)
        {
            return HealthCheckResult.Healthy("stopping: running deploys finish, new deployments wait in the queue for the next start or another node", Draining);
        }

        NodeDrain? drain;
        try
        {
            drain = await drains.ForThisNodeAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The database check says what is wrong; its error text is not repeated here.
            return HealthCheckResult.Healthy("unknown: the database cannot be read");
        }

        return drain is null
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Healthy(
                string.Create(CultureInfo.InvariantCulture, $"drained ({(drain.IsForAllNodes ? "every node" : "this node")}) by {drain.RequestedBy} at {drain.RequestedAt:yyyy-MM-ddTHH:mm:ssZ}: new deployments wait in the queue until 'heaven resume'"),
                Draining);
    }
}

internal sealed class DataDirectoryHealthCheck(DataDirectory dataDirectory) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(dataDirectory.IsWritable(out var problem) ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy(problem));
}

/// <summary>Says what a deploy can reach; unhealthy when isolation is required and impossible (no deploy runs).</summary>
internal sealed class IsolationHealthCheck(DeployIsolation isolation) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var state = await isolation.GetAsync(cancellationToken);
        return state.Refusal is null ? HealthCheckResult.Healthy(state.Summary) : HealthCheckResult.Unhealthy(state.Summary);
    }
}

internal sealed class GitHealthCheck(IOptions<GitOptions> options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var executable = options.Value.Executable;
        try
        {
            using var process = Process.Start(new ProcessStartInfo(executable, ["--version"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            });
            if (process is null)
            {
                return HealthCheckResult.Unhealthy($"git ({executable}) could not be started");
            }

            process.StandardInput.Close();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            var output = await process.StandardOutput.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            return process.ExitCode == 0 && output.StartsWith("git version", StringComparison.Ordinal)
                ? HealthCheckResult.Healthy(output.Trim())
                : HealthCheckResult.Unhealthy($"git ({executable}) did not report its version");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"git ({executable}) was not found or did not answer; install git or set Git:Executable");
        }
    }
}
