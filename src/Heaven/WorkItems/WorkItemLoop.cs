namespace Heaven.WorkItems;

/// <summary>
/// The loop every outbox sender runs: first a start step (handing back what a killed earlier run of
/// the node left leased), then rounds: do a round of due work; when there was some, go again at once
/// (finishing one item may have made the next of the same series due); otherwise wait for the next
/// poll or a wake-up. A failing round (the database briefly away) is reported and retried next time.
/// </summary>
internal static class WorkItemLoop
{
    public static async Task RunAsync(
        Func<CancellationToken, Task> start,
        Func<CancellationToken, Task<int>> round,
        Func<CancellationToken, Task> idle,
        Action<Exception> roundFailed,
        CancellationToken stoppingToken)
    {
        try
        {
            await start(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e)
        {
            // Only a head start is lost (left-over leases then run out on their own).
            roundFailed(e);
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            var worked = 0;
            try
            {
                worked = await round(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                roundFailed(e);
            }

            if (worked > 0)
            {
                continue;
            }

            try
            {
                await idle(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
