namespace Heaven.WorkItems;

/// <summary>
/// How one kind of outbox work is done: which items it takes and what to do with one of them. The
/// <see cref="WorkItemConsumer"/> does everything else (claim due items in order, lease, retry with
/// back-off and Retry-After, give up, finish, hand back on shutdown, wake-ups), the same for every
/// handler.
/// </summary>
internal interface IWorkItemHandler
{
    /// <summary>What the handler does, for the logs ("deployment statuses", "notifications", ...).</summary>
    string Name { get; }

    /// <summary>The kinds of item it takes.</summary>
    IReadOnlyList<string> Kinds { get; }

    /// <summary>Also every kind starting with this (one kind per chat service, <c>notify:slack</c>); null for none.</summary>
    string? KindPrefix => null;

    /// <summary>Which due items wait for earlier ones.</summary>
    WorkItemOrder Order { get; }

    /// <summary>Poll interval, lease, retry back-off and when to give up.</summary>
    StatusDeliveryOptions Delivery { get; }

    /// <summary>The <see cref="WorkItemSignal"/> kinds that wake it (besides the poll).</summary>
    IReadOnlyList<string> WakeUpKinds => Kinds;

    /// <summary>Once, before the first round (say what is on).</summary>
    Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Before each round: work that is not one item's (the notifications' fan-out); returns how much it
    /// did, and whether due items may be handled this round (false leaves them pending, e.g. no token).
    /// </summary>
    Task<(int Worked, bool Deliver)> BeforeRoundAsync(CancellationToken cancellationToken) => Task.FromResult((0, true));

    /// <summary>
    /// Does one claimed item. An exception other than a cancellation on shutdown counts as
    /// <see cref="WorkItemOutcome.Retry"/> with the exception's type and message.
    /// </summary>
    Task<WorkItemOutcome> HandleAsync(ClaimedWorkItem item, CancellationToken cancellationToken);
}

/// <summary>Which due items of a handler wait for earlier ones (head of line).</summary>
internal enum WorkItemOrder
{
    /// <summary>Oldest first, none waits for another.</summary>
    Oldest,

    /// <summary>One at a time per Heaven deployment: in_progress always reaches GitHub before success.</summary>
    OnePerDeployment,

    /// <summary>One at a time per kind: "started" never reaches a chat service after "deployed".</summary>
    OnePerKind,
}

/// <summary>An item this node holds the lease of; <see cref="Attempt"/> is the fencing token for its outcome.</summary>
internal sealed record ClaimedWorkItem(
    long Id,
    string Kind,
    int Attempt,
    DateTime CreatedAt,
    string? Repository,
    string? DeliveryId,
    long? DeploymentId,
    string PayloadJson);

/// <summary>How handling one item ended.</summary>
internal abstract record WorkItemOutcome
{
    private WorkItemOutcome()
    {
    }

    public static WorkItemOutcome Done { get; } = new Finished();

    /// <summary>Done; nothing more to do.</summary>
    public sealed record Finished : WorkItemOutcome;

    /// <summary>Failed for good (refused, unreadable): not tried again, <paramref name="Reason"/> kept for people.</summary>
    public sealed record Failed(string Reason) : WorkItemOutcome;

    /// <summary>Worth another try: after the back-off, or the remote side's <paramref name="RetryAfter"/> when longer.</summary>
    public sealed record Retry(string Error, TimeSpan? RetryAfter = null) : WorkItemOutcome;
}
