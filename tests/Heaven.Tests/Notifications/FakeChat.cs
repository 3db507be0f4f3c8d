using System.Net;
using System.Text;
using Heaven.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Heaven.Tests.Notifications;

/// <summary>
/// One real HTTP server on 127.0.0.1 standing in for every chat service: each service gets its own
/// path (<see cref="Url"/>), every request is recorded, and a path can be made to fail on demand.
/// </summary>
public sealed class FakeChat : IAsyncDisposable
{
    private readonly Lock gate = new();
    private readonly List<RecordedRequest> requests = [];
    private readonly List<(string Prefix, int Status, int Remaining)> faults = [];
    private readonly List<Answer> answers = [];
    private WebApplication? app;
    private int port;

    private FakeChat()
    {
    }

    public static async Task<FakeChat> StartAsync()
    {
        var fake = new FakeChat();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var web = builder.Build();
        web.Run(fake.HandleAsync);
        await web.StartAsync();
        fake.port = new Uri(web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        fake.app = web;
        return fake;
    }

    public string Root => $"http://127.0.0.1:{port}";

    public string Url(string path) => Root + path;

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (gate)
            {
                return [.. requests];
            }
        }
    }

    /// <summary>Requests whose path starts with <paramref name="prefix"/>, answered 2xx.</summary>
    public IReadOnlyList<RecordedRequest> Delivered(string prefix) =>
        Requests.Where(r => r.Path.StartsWith(prefix, StringComparison.Ordinal) && r.Status is >= 200 and < 300).ToList();

    /// <summary>The next <paramref name="times"/> requests to paths under <paramref name="prefix"/> are answered <paramref name="status"/>.</summary>
    public void FailNext(string prefix, int status, int times = 1)
    {
        lock (gate)
        {
            faults.Add((prefix, status, times));
        }
    }

    /// <summary>
    /// Requests to paths under <paramref name="prefix"/> are answered this way (the latest such rule
    /// wins; <see cref="FailNext"/> goes first), <paramref name="times"/> times or for good.
    /// </summary>
    public void Respond(string prefix, int status, string body, IReadOnlyDictionary<string, string>? headers = null, int times = int.MaxValue, TimeSpan? delay = null)
    {
        lock (gate)
        {
            answers.Add(new Answer(prefix, status, body, headers ?? new Dictionary<string, string>(), times) { Delay = delay ?? TimeSpan.Zero });
        }
    }

    public async Task<IReadOnlyList<RecordedRequest>> WaitForAsync(string prefix, int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            var delivered = Delivered(prefix);
            if (delivered.Count >= count || DateTime.UtcNow > deadline)
            {
                return delivered;
            }

            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string body;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(context.RequestAborted);
        }

        var path = request.Path.Value ?? "/";
        var status = 200;
        var answerBody = "ok";
        IReadOnlyDictionary<string, string> answerHeaders = new Dictionary<string, string>();
        var delay = TimeSpan.Zero;
        lock (gate)
        {
            var index = faults.FindIndex(f => path.StartsWith(f.Prefix, StringComparison.Ordinal));
            var rule = answers.FindLastIndex(a => path.StartsWith(a.Prefix, StringComparison.Ordinal));
            if (index >= 0)
            {
                var (prefix, failStatus, remaining) = faults[index];
                (status, answerBody) = (failStatus, "invalid_payload");
                if (remaining <= 1)
                {
                    faults.RemoveAt(index);
                }
                else
                {
                    faults[index] = (prefix, failStatus, remaining - 1);
                }
            }
            else if (rule >= 0)
            {
                var answer = answers[rule];
                (status, answerBody, answerHeaders, delay) = (answer.Status, answer.Body, answer.Headers, answer.Delay);
                answer.Remaining--;
                if (answer.Remaining <= 0)
                {
                    answers.RemoveAt(rule);
                }
            }

            var headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            requests.Add(new RecordedRequest(DateTimeOffset.UtcNow, request.Method, path, path, request.QueryString.Value ?? "", path, headers, body, status));
        }

        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, context.RequestAborted);
        }

        context.Response.StatusCode = status;
        foreach (var (name, value) in answerHeaders)
        {
            context.Response.Headers[name] = value;
        }

        if (answerBody.StartsWith('{'))
        {
            context.Response.ContentType = "application/json; charset=utf-8";
        }

        await context.Response.WriteAsync(answerBody, context.RequestAborted);
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
