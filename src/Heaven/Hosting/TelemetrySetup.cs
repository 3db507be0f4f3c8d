using System.Diagnostics.Metrics;
using Heaven.Access;
using Heaven.Configuration;
using Heaven.Telemetry;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Heaven.Hosting;

/// <summary>
/// Metrics and traces out of Heaven: the Prometheus scrape endpoint <c>/metrics</c>, and OTLP when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (docs/monitoring.md). Components record into
/// <see cref="HeavenMetrics"/> and <see cref="HeavenTracing"/>; only this file knows the exporters.
/// </summary>
internal static class TelemetrySetup
{
    public const string MetricsPath = "/metrics";
    public const string MetricsPolicy = "heaven:metrics";

    /// <summary>The standard OpenTelemetry variable; its neighbours (headers, protocol) are read by the exporter itself.</summary>
    public const string OtlpEndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The meter .NET itself publishes its GC, JIT, thread pool and CPU figures on.</summary>
    public const string RuntimeMeterName = "System.Runtime";

    public static void AddHeavenTelemetry(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<MetricsOptions>(MetricsOptions.Section);
        services.AddMetrics();
        services.AddSingleton(sp => new HeavenMetrics(sp.GetRequiredService<IMeterFactory>(), () => sp.GetService<IOutboxStatistics>()));
        services.AddAuthorizationBuilder().AddPolicy(MetricsPolicy, policy => policy.AddRequirements(new MetricsReaderRequirement()));
        services.AddSingleton<IAuthorizationHandler, MetricsReaderHandler>();

        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointSetting]);
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName: "heaven", serviceVersion: typeof(TelemetrySetup).Assembly.GetName().Version?.ToString()))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(HeavenMetrics.MeterName)
                    // The runtime's own (GC, JIT, thread pool, CPU time): what a node's memory and CPU go to.
                    .AddMeter(RuntimeMeterName)
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddPrometheusExporter();
                // Meters made through a container's factory are still seen process-wide: count only
                // this Heaven's (several run side by side in one process in tests or an embedding host).
                ((IDeferredMeterProviderBuilder)metrics).Configure((sp, configured) =>
                {
                    var own = sp.GetRequiredService<IMeterFactory>();
                    configured.AddView(instrument => instrument.Meter.Scope is IMeterFactory other && !ReferenceEquals(other, own) ? MetricStreamConfiguration.Drop : null);
                });
                if (otlp)
                {
                    metrics.AddOtlpExporter();
                }
            })
            .WithTracing(tracing =>
            {
                tracing.AddSource(HeavenTracing.SourceName)
                    // Scrapes and health checks every few seconds would drown the deployments' traces.
                    .AddAspNetCoreInstrumentation(options => options.Filter = context => !IsRoutine(context.Request.Path))
                    .AddHttpClientInstrumentation();
                if (otlp)
                {
                    tracing.AddOtlpExporter();
                }
            });
    }

    /// <summary>Maps <c>/metrics</c>: loopback, <c>Metrics:AllowFrom</c> and read tokens get it; anyone else a 404.</summary>
    public static void MapMetrics(WebApplication app)
    {
        // Created now, so the gauges it observes exist from the first scrape on.
        _ = app.Services.GetRequiredService<HeavenMetrics>();
        app.MapPrometheusScrapingEndpoint(MetricsPath)
            .RequireAuthorization(MetricsPolicy)
            .WithMetadata(new NotFoundWhenRefused());
    }

    private static bool IsRoutine(PathString path) =>
        path.StartsWithSegments(MetricsPath, StringComparison.Ordinal)
        || path.StartsWithSegments("/healthz", StringComparison.Ordinal)
        || path.StartsWithSegments("/static", StringComparison.Ordinal);
}

/// <summary>A caller at an allowed address (<see cref="MetricsOptions"/>), or one with at least the read scope.</summary>
internal sealed class MetricsReaderRequirement : IAuthorizationRequirement;

internal sealed class MetricsReaderHandler(IOptionsMonitor<MetricsOptions> options) : AuthorizationHandler<MetricsReaderRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, MetricsReaderRequirement requirement)
    {
        var fromAllowedAddress = context.Resource is HttpContext http && options.CurrentValue.Allows(http.Connection.RemoteIpAddress);
        // Every token has at least the read scope; a signed-in GitHub user may read what a read token may.
        if (fromAllowedAddress || HeavenUser.From(context.User) is { Kind: HeavenUserKind.GitHub } or { Kind: HeavenUserKind.Token, Scope: >= TokenScope.Read })
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}
