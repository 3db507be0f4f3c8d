using Microsoft.Extensions.Options;

namespace Heaven.Reconciliation;

/// <summary>
/// Runs a <see cref="Reconciler"/> pass at start and then every <c>Reconciliation:Interval</c> seconds
/// on the server's clock; nothing at all when the interval is 0.
/// </summary>
internal sealed partial class ReconciliationLoop(
    Reconciler reconciler,
    IOptions<ReconciliationOptions> options,
    TimeProvider time,
    ILogger<ReconciliationLoop> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (settings.Interval == 0)
        {
            Log.Off(logger);
            return;
        }

        Log.On(logger, settings.Interval, settings.LookBack);
        var told = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var report = await reconciler.ReconcileAsync(stoppingToken);
                if (report.NotAsked is { } why && !told)
                {
                    // Said once: without a token nothing changes from one pass to the next.
                    told = true;
                    Log.CannotAsk(logger, why);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The database or GitHub may be away for a while: the next pass tries again.
                Log.PassFailed(logger, e);
            }

            try
            {
                await Task.Delay(settings.IntervalSpan, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Reconciliation is off (Reconciliation:Interval is 0): deployments whose webhook never arrives are not found")]
        public static partial void Off(ILogger logger);

        [LoggerMessage(Level = LogLevel.Information, Message = "Reconciliation looks for missed webhooks every {Interval} s, {LookBack} s back")]
        public static partial void On(ILogger logger, int interval, int lookBack);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Reconciliation: {Problem}")]
        public static partial void CannotAsk(ILogger logger, string problem);

        [LoggerMessage(Level = LogLevel.Error, Message = "A reconciliation pass failed; the next one tries again")]
        public static partial void PassFailed(ILogger logger, Exception exception);
    }
}
