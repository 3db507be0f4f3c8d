using System.Runtime.InteropServices;
using Heaven.Deployments;
using Heaven.WorkItems;
using Microsoft.Extensions.Options;

namespace Heaven.Hosting;

/// <summary>
/// How the server stops on SIGTERM or Ctrl+C (SIGINT), in place of the host's console lifetime, which
/// would stop everything at once and give running deploys only the host's 30 seconds: the node claims
/// no new deployments, the web server keeps answering (webhooks are recorded and wait in the queue), the
/// running deploys get up to <c>Deployments:DrainTimeout</c> to finish and are then cancelled, the
/// outbox sends what it owes for a short while, and only then does the host stop. A second signal
/// cancels the running deploys at once.
/// </summary>
/// <remarks>
/// The host's own stop comes after the drain, when nothing runs any more, so its ShutdownTimeout does
/// not cut the drain short. Only <c>heaven serve</c> uses this lifetime: an in-process host stops at once.
/// </remarks>
internal sealed partial class GracefulShutdown(
    IHostApplicationLifetime lifetime,
    IServiceProvider services,
    ILogger<GracefulShutdown> logger) : IHostLifetime, IDisposable
{
    /// <summary>How long the outbox gets, after the deploys ended, to send their statuses.</summary>
    public static readonly TimeSpan OutboxLimit = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource cancelNow = new();
    private readonly List<PosixSignalRegistration> registrations = [];
    private int signals;

    /// <summary>Registers the signals; the host calls it before it starts anything.</summary>
    public static void Use(WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IHostLifetime, GracefulShutdown>();
        // What is left to stop after the drain (the web server, the senders) must not wait for ever either.
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(30));
    }

    public Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        foreach (var signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT })
        {
            registrations.Add(PosixSignalRegistration.Create(signal, OnSignal));
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        foreach (var registration in registrations)
        {
            registration.Dispose();
        }

        cancelNow.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        // Heaven stops by itself, in its own time; the runtime's default (end the process now) is not wanted.
        context.Cancel = true;
        switch (Interlocked.Increment(ref signals))
        {
            case 1:
                _ = Task.Run(DrainThenStopAsync);
                break;
            case 2:
                Log.CancelNow(logger, context.Signal.ToString());
                cancelNow.Cancel();
                break;
            default:
                Log.AlreadyStopping(logger);
                break;
        }
    }

    private async Task DrainThenStopAsync()
    {
        try
        {
            // Read when needed: the host makes its lifetime before the settings are checked.
            var dispatcher = services.GetRequiredService<DeploymentDispatcher>();
            var outbox = services.GetRequiredService<OutboxFlush>();
            var drainTimeout = services.GetRequiredService<IOptions<DeploymentOptions>>().Value.DrainTimeout;
            await dispatcher.DrainForShutdownAsync(TimeSpan.FromSeconds(drainTimeout), cancelNow.Token);
            if (!await outbox.WaitUntilSentAsync(OutboxLimit, CancellationToken.None))
            {
                Log.OutboxLeft(logger, await outbox.OwedAsync(CancellationToken.None), (int)OutboxLimit.TotalSeconds);
            }
        }
        catch (Exception e)
        {
            // The stop goes on: whatever was not recorded is reported by the next start.
            Log.DrainFailed(logger, e);
        }
        finally
        {
            lifetime.StopApplication();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "{Signal} again: cancelling the running deploys now")]
        public static partial void CancelNow(ILogger logger, string signal);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Heaven is already stopping; the running deploys are being cancelled")]
        public static partial void AlreadyStopping(ILogger logger);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping with {Count} outbox items still owed after {Seconds} s; they are sent after the next start (or by another node)")]
        public static partial void OutboxLeft(ILogger logger, int count, int seconds);

        [LoggerMessage(Level = LogLevel.Error, Message = "The graceful stop failed; stopping now")]
        public static partial void DrainFailed(ILogger logger, Exception exception);
    }
}
