using Npgsql;

namespace Heaven.Storage;

/// <summary>
/// This node's ear on PostgreSQL: one dedicated connection that <c>LISTEN</c>s on
/// <see cref="ClusterSignals.Channel"/> and hands other nodes' announcements to <see cref="ClusterSignals"/>.
/// When the connection breaks (PostgreSQL restarted, a proxy or an administrator ended it) it
/// reconnects with a growing pause; after every (re)connect it wakes every subscriber of other nodes' announcements once, because
/// announcements sent while it was away are gone. Meanwhile the components poll as they always do.
/// </summary>
internal sealed partial class ClusterListener(string connectionString, ClusterSignals signals, TimeProvider time, ILogger<ClusterListener> logger) : BackgroundService
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan LongestRetry = TimeSpan.FromSeconds(30);

    private int connections;

    /// <summary>How many times the listening connection was established (for tests: a reconnect happened).</summary>
    internal int Connections => Volatile.Read(ref connections);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            ApplicationName = $"{ClusterSignals.ListenerApplicationName} {signals.Origin}",
            // Its own connection, never one a pool hands to others with LISTEN still on it.
            Pooling = false,
            // An idle listener still learns within a minute or so that its server went away without a word.
            KeepAlive = 30,
        };
        var retry = FirstRetry;
        var lost = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(builder.ConnectionString);
                connection.Notification += (_, e) => signals.Received(e.Payload);
                await connection.OpenAsync(stoppingToken);
                await using (var listen = new NpgsqlCommand($"LISTEN {ClusterSignals.Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                Interlocked.Increment(ref connections);
                if (lost)
                {
                    Log.Reconnected(logger);
                }

                lost = false;
                retry = FirstRetry;
                signals.Hearing = true;
                // Whatever was announced before LISTEN took effect (or while it was down) is looked at now.
                signals.WakeAll();
                while (true)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                signals.Hearing = false;
                return;
            }
            catch (Exception e)
            {
                // Polls are the only way to see other nodes' changes until LISTEN is back.
                signals.Hearing = false;
                if (!lost)
                {
                    Log.Lost(logger, e.GetType().Name, e.Message);
                }

                lost = true;
            }

            try
            {
                await Task.Delay(retry, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, LongestRetry.Ticks));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Lost the connection that hears other nodes' wake-ups ({Error}: {Message}); reconnecting; until then this node finds their changes at its polls")]
        public static partial void Lost(ILogger logger, string error, string message);

        [LoggerMessage(Level = LogLevel.Information, Message = "Hearing other nodes' wake-ups again")]
        public static partial void Reconnected(ILogger logger);
    }
}
