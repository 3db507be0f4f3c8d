using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Infrastructure;

/// <summary>Heaven's background consumers of the work-item outbox, each woken through <see cref="WorkItemSignal"/>.</summary>
public enum OutboxConsumer
{
    /// <summary>Posts deployment statuses to GitHub.</summary>
    StatusSender,

    /// <summary>Turns <c>deployment_status</c> events into chat notifications and sends them.</summary>
    Notifier,

    /// <summary>Evaluates <c>status</c> and <c>check_suite</c> events for auto-deploy.</summary>
    AutoDeployer,
}

/// <summary>Waits on the outbox consumers of a running Heaven by their own signal, never by sleeping.</summary>
public static class OutboxConsumers
{
    /// <summary>
    /// Waits until <paramref name="consumer"/> is idle: its round is over and it sleeps until a wake or
    /// its poll. At once when it is idle now; with <paramref name="next"/>, at its next idle moment
    /// (after one more round). Whatever the consumer sent in the rounds before has then reached the
    /// fake it sent to, so "nothing more was sent" can be checked without waiting and hoping.
    /// </summary>
    public static Task IdleAsync(this HeavenTestHost host, OutboxConsumer consumer, bool next = false, TimeSpan? timeout = null) =>
        Poll.SignalAsync(
            host.Services.GetRequiredService<WorkItemSignal>().ParkedAsync(KindsOf(consumer), next),
            $"the {consumer} to finish its round and go idle",
            timeout);

    /// <summary>The work items of <paramref name="kind"/>, oldest first.</summary>
    public static Task<List<WorkItem>> WorkItemsAsync(this HeavenTestHost host, string kind) =>
        host.QueryAsync(db => db.WorkItems.AsNoTracking().Where(w => w.Kind == kind).OrderBy(w => w.Id).ToListAsync());

    /// <summary>Waits until the work items of <paramref name="kind"/> satisfy <paramref name="done"/>; returns them.</summary>
    public static Task<List<WorkItem>> WaitForWorkItemsAsync(this HeavenTestHost host, string kind, Func<List<WorkItem>, bool> done, string what, TimeSpan? timeout = null) =>
        Poll.ForAsync(
            () => host.WorkItemsAsync(kind),
            done,
            what,
            timeout,
            items => $"{kind} work items: " + (items.Count == 0 ? "none" : string.Join("; ", items.Select(i => $"{i.Id} {i.State} attempts={i.Attempts} error={i.LastError}"))));

    /// <summary>The keys each consumer waits with, exactly as it passes them to <see cref="WorkItemSignal.WaitAsync(IReadOnlyCollection{string}, TimeSpan, CancellationToken, TimeSpan?)"/>.</summary>
    private static string[] KindsOf(OutboxConsumer consumer) => consumer switch
    {
        OutboxConsumer.StatusSender => [WorkItemKinds.PostDeploymentStatus],
        OutboxConsumer.Notifier => [WorkItemKinds.DeploymentStatusEvent],
        OutboxConsumer.AutoDeployer => [WorkItemKinds.CommitStatusEvent, WorkItemKinds.CheckSuiteEvent],
        _ => throw new ArgumentOutOfRangeException(nameof(consumer)),
    };
}
