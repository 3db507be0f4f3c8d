namespace Heaven.Telemetry;

/// <summary>What the outbox holds now, per kind of work: read by the metrics when they are collected.</summary>
public interface IOutboxStatistics
{
    IReadOnlyList<OutboxKindStatistics> Read();
}

/// <param name="OldestAge">How long the oldest pending item of the kind has waited.</param>
public sealed record OutboxKindStatistics(string Kind, long Pending, TimeSpan OldestAge);
