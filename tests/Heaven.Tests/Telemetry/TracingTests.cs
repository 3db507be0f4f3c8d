using System.Collections;
using System.Diagnostics;
using Heaven.Telemetry;
using Heaven.Tests.Infrastructure;
using OpenTelemetry.Trace;

namespace Heaven.Tests.Telemetry;

/// <summary>One trace per deployment, from the webhook to its last status, as an OTLP backend would receive it.</summary>
public sealed class TracingTests
{
    [Fact]
    public async Task ADeployment_IsOneTrace_FromTheWebhookThroughQueueCheckoutAndProvider_ToEachStatus()
    {
        var spans = new LockedList<Activity>();
        await using var harness = await DeployHarness.StartAsync(
            new Dictionary<string, string?> { ["Output:MirrorToGist"] = "false" },
            overrideServices: services => services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans)));
        using var repository = new TestRepository();
        var sha = repository.CommitDeployScript("echo deployed");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");
        var deliveryId = (await harness.DeploymentAsync(heavenId)).DeliveryId;

        // The status span ends once GitHub has answered, a moment after the fake GitHub saw the post.
        // Found by its delivery id: other tests' hosts in this process record into the same source, and
        // their deployment ids (each host's own database) can be this one's.
        var intake = await Poll.ForAsync(
            () => spans.Snapshot().FirstOrDefault(s => s.OperationName == HeavenTracing.IntakeSpan && Equals(s.GetTagItem(HeavenTracing.DeliveryIdAttribute), deliveryId)),
            s => s is not null && spans.Snapshot().Any(t => t.TraceId == s.TraceId && t.OperationName == HeavenTracing.StatusSpan && (string?)t.GetTagItem("github.deployment_status.state") == "success"),
            "the intake span and the span of the success status");
        var trace = spans.Snapshot().Where(s => s.TraceId == intake!.TraceId).ToList();

        intake!.GetTagItem(HeavenTracing.DeploymentIdAttribute).ShouldBe(heavenId);
        intake.GetTagItem(HeavenTracing.GitHubDeploymentIdAttribute).ShouldBe(gitHubId);
        intake.GetTagItem(HeavenTracing.EventAttribute).ShouldBe("deployment");
        // Under the webhook request's own span (ASP.NET Core's; its parent is the sender's, when it sends a traceparent).
        var request = trace.Single(s => s.SpanId == intake.ParentSpanId);
        request.Kind.ShouldBe(ActivityKind.Server);
        request.GetTagItem("http.route").ShouldBe("/events");

        var queueWait = trace.Single(s => s.OperationName == HeavenTracing.QueueWaitSpan);
        queueWait.ParentSpanId.ShouldBe(intake.SpanId);
        queueWait.StartTimeUtc.ShouldBeGreaterThanOrEqualTo(intake.StartTimeUtc.AddMilliseconds(-1));

        var run = trace.Single(s => s.OperationName == HeavenTracing.DeploymentSpan);
        run.ParentSpanId.ShouldBe(intake.SpanId);
        run.GetTagItem(HeavenTracing.DeploymentIdAttribute).ShouldBe(heavenId);
        run.GetTagItem(HeavenTracing.GitHubDeploymentIdAttribute).ShouldBe(gitHubId);
        run.GetTagItem(HeavenTracing.DeliveryIdAttribute).ShouldBe(deliveryId);
        run.GetTagItem(HeavenTracing.StateAttribute).ShouldBe("success");

        var checkout = trace.Single(s => s.OperationName == HeavenTracing.CheckoutSpan);
        checkout.ParentSpanId.ShouldBe(run.SpanId);
        var provider = trace.Single(s => s.OperationName == HeavenTracing.ProviderSpan);
        provider.ParentSpanId.ShouldBe(run.SpanId);
        provider.GetTagItem(HeavenTracing.ProviderAttribute).ShouldBe("shell");
        provider.StartTimeUtc.ShouldBeGreaterThanOrEqualTo(checkout.StartTimeUtc + checkout.Duration);

        // Each status GitHub received is a span of the run, posted through the outbox.
        var statuses = trace.Where(s => s.OperationName == HeavenTracing.StatusSpan).ToList();
        statuses.Select(s => (string?)s.GetTagItem("github.deployment_status.state"))
            .ShouldBe(harness.GitHub.StatusesFor(repository.FullName, gitHubId).Select(s => (string?)s.State), ignoreOrder: true);
        statuses.ShouldAllBe(s => s.ParentSpanId == run.SpanId && Equals(s.GetTagItem(HeavenTracing.GitHubDeploymentIdAttribute), gitHubId));
    }

    /// <summary>The exporter's collection, written by several threads at once (and by other tests' hosts, which the trace id tells apart).</summary>
    private sealed class LockedList<T> : ICollection<T>
    {
        private readonly List<T> items = [];

        public int Count
        {
            get
            {
                lock (items)
                {
                    return items.Count;
                }
            }
        }

        public bool IsReadOnly => false;

        public List<T> Snapshot()
        {
            lock (items)
            {
                return [.. items];
            }
        }

        public void Add(T item)
        {
            lock (items)
            {
                items.Add(item);
            }
        }

        public void Clear()
        {
            lock (items)
            {
                items.Clear();
            }
        }

        public bool Contains(T item) => Snapshot().Contains(item);

        public void CopyTo(T[] array, int arrayIndex) => Snapshot().CopyTo(array, arrayIndex);

        public bool Remove(T item)
        {
            lock (items)
            {
                return items.Remove(item);
            }
        }

        public IEnumerator<T> GetEnumerator() => Snapshot().GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
