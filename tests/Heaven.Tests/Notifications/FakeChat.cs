using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Notifications;

/// <summary>
/// One real HTTP server on 127.0.0.1 standing in for every chat service: each service gets its own
/// path (<see cref="Url"/>), every request is recorded, and a path can be made to fail on demand.
/// Faults, delays and holds are keyed by path prefix (<c>/slack/</c>).
/// </summary>
public sealed class FakeChat : FakeHttpServer
{
    private readonly List<Answer> answers = [];

    private FakeChat()
    {
    }

    public static async Task<FakeChat> StartAsync()
    {
        var fake = new FakeChat();
        await fake.ListenAsync();
        return fake;
    }

    public string Url(string path) => Root + path;

    /// <summary>Requests whose path starts with <paramref name="prefix"/>, answered 2xx.</summary>
    public IReadOnlyList<RecordedRequest> Delivered(string prefix) =>
        Requests.Where(r => r.Path.StartsWith(prefix, StringComparison.Ordinal) && r.Status is >= 200 and < 300).ToList();

    /// <summary>The next <paramref name="times"/> requests to paths under <paramref name="prefix"/> are answered <paramref name="status"/>.</summary>
    public void FailNext(string prefix, int status, int times = 1) =>
        AddFault(prefix, new FakeReply(status, "invalid_payload"), times);

    /// <summary>
    /// Requests to paths under <paramref name="prefix"/> are answered this way (the latest such rule
    /// wins; <see cref="FailNext"/> goes first), <paramref name="times"/> times or for good, each
    /// after <paramref name="delay"/>.
    /// </summary>
    public void Respond(string prefix, int status, string body, IReadOnlyDictionary<string, string>? headers = null, int times = int.MaxValue, TimeSpan? delay = null)
    {
        lock (Gate)
        {
            answers.Add(new Answer(prefix, status, body, headers ?? new Dictionary<string, string>(), times) { Delay = delay ?? TimeSpan.Zero });
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> requests under <paramref name="prefix"/> were answered 2xx; returns them all.</summary>
    public Task<IReadOnlyList<RecordedRequest>> WaitForAsync(string prefix, int count, TimeSpan? timeout = null) =>
        Poll.ForAsync(
            () => Delivered(prefix),
            delivered => delivered.Count >= count,
            $"{count} deliveries to {prefix}",
            timeout,
            _ => DescribeRequests());

    protected override bool Applies(string key, FakeRequest request) => request.Path.StartsWith(key, StringComparison.Ordinal);

    protected override async Task<FakeReply> AnswerAsync(FakeRequest request, CancellationToken cancellationToken)
    {
        Answer? rule;
        lock (Gate)
        {
            var index = answers.FindLastIndex(a => request.Path.StartsWith(a.Prefix, StringComparison.Ordinal));
            rule = index >= 0 ? answers[index] : null;
            if (rule is not null && --rule.Remaining <= 0)
            {
                answers.RemoveAt(index);
            }
        }

        if (rule is null)
        {
            return new FakeReply(200, "ok");
        }

        if (rule.Delay > TimeSpan.Zero)
        {
            await Task.Delay(rule.Delay, cancellationToken);
        }

        return new FakeReply(rule.Status, rule.Body, rule.Headers, rule.Body.StartsWith('{') ? "application/json; charset=utf-8" : null);
    }

    private sealed class Answer(string prefix, int status, string body, IReadOnlyDictionary<string, string> headers, int remaining)
    {
        public string Prefix { get; } = prefix;

        public int Status { get; } = status;

        public string Body { get; } = body;

        public IReadOnlyDictionary<string, string> Headers { get; } = headers;

        public int Remaining { get; set; } = remaining;

        public TimeSpan Delay { get; init; }
    }
}
