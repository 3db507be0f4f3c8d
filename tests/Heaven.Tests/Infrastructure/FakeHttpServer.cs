using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Heaven.Tests.Infrastructure;

/// <summary>
/// One request as a fake received it, with the status it answered. <see cref="Path"/> is the path the
/// fake routed on (FakeGitHub drops <c>/api/v3</c>), <see cref="RawPath"/> the path as sent.
/// </summary>
public sealed record RecordedRequest(
    DateTimeOffset At,
    string Method,
    string RawPath,
    string Path,
    string Query,
    string Route,
    IReadOnlyDictionary<string, string> Headers,
    string Body,
    int Status)
{
    /// <summary>The body as received, byte for byte.</summary>
    public byte[] Bytes { get; init; } = [];

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    public JsonElement Json() => JsonDocument.Parse(Body).RootElement.Clone();
}

/// <summary>What a fake answers: a status, a body (text or bytes) and headers, or a stream it writes itself.</summary>
public sealed record FakeReply(int Status, string Body = "", IReadOnlyDictionary<string, string>? Headers = null, string? ContentType = null)
{
    public byte[]? Bytes { get; init; }

    /// <summary>Writes the body itself, after status and headers went out (a log stream that follows a build).</summary>
    public Func<HttpResponse, CancellationToken, Task>? Stream { get; init; }

    public static FakeReply Json(int status, JsonNode body, IReadOnlyDictionary<string, string>? headers = null) =>
        new(status, body.ToJsonString(), headers, "application/json; charset=utf-8");
}

/// <summary>A request on its way through a fake: what was sent, and the route it matched.</summary>
public sealed record FakeRequest(
    string Method,
    string RawPath,
    string Path,
    IQueryCollection Query,
    string QueryString,
    string Route,
    Match? Match,
    IReadOnlyDictionary<string, string> Headers,
    string Body,
    byte[] Bytes,
    string? ContentType)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>
/// What every fake HTTP server of the tests shares: Kestrel on 127.0.0.1 on a free port, a route table
/// (method and path pattern to a route name), every request recorded, and misbehaviour on demand by
/// route: the next requests fail (<see cref="AddFault"/>), every request waits (<see cref="Delay"/>), or
/// requests are held until the test lets them go (<see cref="Hold"/>).
/// </summary>
/// <remarks>
/// A subclass answers in <see cref="AnswerAsync"/>; it may serve a fault-matching key that is not a
/// route name (FakeChat's path prefixes) by overriding <see cref="Applies"/>.
/// </remarks>
public abstract class FakeHttpServer : IAsyncDisposable
{
    /// <summary>A fault, delay or hold for this key applies to every route (after the route's own).</summary>
    public const string AnyRoute = "*";

    /// <summary>The route of a request no pattern matched.</summary>
    public const string UnknownRoute = "unknown";

    private readonly (string Method, Regex Pattern, string Route)[] routes;
    private readonly List<RecordedRequest> requests = [];
    private readonly List<Fault> faults = [];
    private readonly Dictionary<string, TimeSpan> delays = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Task> holds = new(StringComparer.Ordinal);
    private readonly List<FakeRequest> waiting = [];
    private readonly CancellationTokenSource stopping = new();
    private WebApplication? app;

    /// <param name="routes">Method, path pattern (a regular expression, anchored by the caller) and route name, tried in order.</param>
    protected FakeHttpServer(params (string Method, string Pattern, string Route)[] routes)
    {
        this.routes = routes.Select(r => (r.Method, new Regex(r.Pattern, RegexOptions.CultureInvariant), r.Route)).ToArray();
    }

    /// <summary>Guards what the subclass keeps, as well as the recorded requests and the faults.</summary>
    protected Lock Gate { get; } = new();

    /// <summary>Cancelled when the fake is disposed: streams and held requests end then.</summary>
    protected CancellationToken Stopping => stopping.Token;

    public int Port { get; private set; }

    /// <summary>The clock that stamps <see cref="RecordedRequest.At"/>: a test on a fake clock measures gaps on it.</summary>
    public TimeProvider Clock { get; set; } = TimeProvider.System;

    /// <summary><c>http://127.0.0.1:port</c>, without a trailing slash.</summary>
    public string Root => $"http://127.0.0.1:{Port}";

    /// <summary>Every request so far, in the order they were answered.</summary>
    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (Gate)
            {
                return [.. requests];
            }
        }
    }

    public IReadOnlyList<RecordedRequest> RequestsTo(string route) => Requests.Where(r => r.Route == route).ToList();

    /// <summary>How many requests to <paramref name="route"/> are here now, held or delayed, not yet answered (nor recorded).</summary>
    public int Waiting(string route)
    {
        lock (Gate)
        {
            return waiting.Count(r => r.Route == route);
        }
    }

    /// <summary>Every request to <paramref name="route"/> waits this long before it is answered (null: no longer).</summary>
    public void Delay(string route, TimeSpan? delay)
    {
        lock (Gate)
        {
            if (delay is { } d)
            {
                delays[route] = d;
            }
            else
            {
                delays.Remove(route);
            }
        }
    }

    /// <summary>
    /// Requests to <paramref name="route"/> are held, unanswered, until <paramref name="until"/> completes
    /// (null: let them go from now on; a held request is released when the fake is disposed).
    /// </summary>
    public void Hold(string route, Task? until)
    {
        lock (Gate)
        {
            if (until is null)
            {
                holds.Remove(route);
            }
            else
            {
                holds[route] = until;
            }
        }
    }

    /// <summary>Drops every pending fault, delay and hold.</summary>
    public void ClearFaults()
    {
        lock (Gate)
        {
            faults.Clear();
            delays.Clear();
            holds.Clear();
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> recorded requests match; returns the matching ones.</summary>
    public Task<IReadOnlyList<RecordedRequest>> WaitForRequestsAsync(Func<RecordedRequest, bool> match, int count, string what, TimeSpan? timeout = null) =>
        Poll.ForAsync<IReadOnlyList<RecordedRequest>>(
            () => Requests.Where(match).ToList(),
            matching => matching.Count >= count,
            $"{GetType().Name}: {what}",
            timeout,
            _ => DescribeRequests());

    /// <summary>The requests so far, one a line, for a failure message.</summary>
    public string DescribeRequests()
    {
        var seen = Requests;
        return seen.Count == 0
            ? $"{GetType().Name} received no request."
            : $"{GetType().Name} received:\n" + string.Join("\n", seen.Select(r => $"  {r.At:HH:mm:ss.fff} {r.Method} {r.Path}{r.Query} -> {r.Status} {Shorten(r.Body)}"));
    }

    /// <summary>Stops listening: connections are refused until it listens again. What was recorded is kept.</summary>
    public async Task StopAsync()
    {
        WebApplication? running;
        lock (Gate)
        {
            running = app;
            app = null;
        }

        if (running is not null)
        {
            await running.StopAsync();
            await running.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Not disposed: a build or a held request still running may look at the token after this.
        await stopping.CancelAsync();
        await StopAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>Starts listening on 127.0.0.1, on <paramref name="port"/> or (0) a free one.</summary>
    protected async Task ListenAsync(int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, port));
        builder.Logging.ClearProviders();
        var web = builder.Build();
        web.Run(HandleAsync);
        await web.StartAsync();
        var address = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        lock (Gate)
        {
            Port = new Uri(address).Port;
            app = web;
        }
    }

    /// <summary>The next <paramref name="times"/> requests a fault of <paramref name="key"/> applies to get <paramref name="reply"/> instead.</summary>
    protected void AddFault(string key, FakeReply reply, int times)
    {
        lock (Gate)
        {
            faults.Add(new Fault(key, reply) { Remaining = times });
        }
    }

    /// <summary>Whether faults, delays and holds kept under <paramref name="key"/> apply to <paramref name="request"/>: by default, its route.</summary>
    protected virtual bool Applies(string key, FakeRequest request) => key == request.Route;

    /// <summary>The path routes are matched on; FakeGitHub drops the <c>/api/v3</c> prefix here.</summary>
    protected virtual string RoutePath(string rawPath) => rawPath;

    /// <summary>Called under <see cref="Gate"/> before faults: an answer that overrides everything (GitHub being down), or null.</summary>
    protected virtual FakeReply? Intercept(FakeRequest request) => null;

    /// <summary>Called for every answer just before it is written: headers every answer carries.</summary>
    protected virtual void OnAnswering(HttpResponse response)
    {
    }

    /// <summary>The answer to a request no fault took.</summary>
    protected abstract Task<FakeReply> AnswerAsync(FakeRequest request, CancellationToken cancellationToken);

    private static string Shorten(string body) => body.Length <= 300 ? body : body[..300] + "…";

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        byte[] bytes;
        using (var buffer = new MemoryStream())
        {
            await request.Body.CopyToAsync(buffer, context.RequestAborted);
            bytes = buffer.ToArray();
        }

        var rawPath = request.Path.Value ?? "/";
        var path = RoutePath(rawPath);
        var (route, match) = Match(request.Method, path);
        var incoming = new FakeRequest(
            request.Method,
            rawPath,
            path,
            request.Query,
            request.QueryString.Value ?? "",
            route,
            match,
            request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
            Encoding.UTF8.GetString(bytes),
            bytes,
            request.ContentType);

        FakeReply? canned;
        TimeSpan delay;
        Task? hold;
        lock (Gate)
        {
            canned = Intercept(incoming) ?? TakeFault(incoming);
            delay = delays.Where(d => Applies(d.Key, incoming)).Select(d => d.Value).FirstOrDefault(delays.GetValueOrDefault(AnyRoute));
            hold = holds.Where(h => Applies(h.Key, incoming)).Select(h => h.Value).FirstOrDefault(holds.GetValueOrDefault(AnyRoute));
        }

        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, Stopping);
        if (delay > TimeSpan.Zero || hold is not null)
        {
            lock (Gate)
            {
                waiting.Add(incoming);
            }

            try
            {
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, aborted.Token);
                }

                if (hold is not null)
                {
                    await hold.WaitAsync(aborted.Token);
                }
            }
            catch (OperationCanceledException)
            {
                // The client gave up waiting (or the fake is going away): 499, as nginx logs it.
                Record(incoming, 499);
                return;
            }
            finally
            {
                lock (Gate)
                {
                    waiting.RemoveAll(r => ReferenceEquals(r, incoming));
                }
            }
        }

        FakeReply answer;
        try
        {
            answer = canned ?? await AnswerAsync(incoming, aborted.Token);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            Record(incoming, 499);
            return;
        }

        Record(incoming, answer.Status);
        var response = context.Response;
        response.StatusCode = answer.Status;
        foreach (var (name, value) in answer.Headers ?? new Dictionary<string, string>())
        {
            response.Headers[name] = value;
        }

        if (answer.ContentType is not null)
        {
            response.ContentType = answer.ContentType;
        }

        OnAnswering(response);

        try
        {
            if (answer.Stream is { } stream)
            {
                await response.StartAsync(aborted.Token);
                await stream(response, aborted.Token);
            }
            else if (answer.Bytes is { } body)
            {
                await response.Body.WriteAsync(body, aborted.Token);
            }
            else if (answer.Body.Length > 0)
            {
                await response.WriteAsync(answer.Body, aborted.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // The client went away mid-answer (a deploy that ended or was cancelled stops following a stream).
        }
    }

    private (string Route, Match? Match) Match(string method, string path)
    {
        foreach (var (routeMethod, pattern, route) in routes)
        {
            var match = pattern.Match(path);
            if (match.Success && string.Equals(routeMethod, method, StringComparison.OrdinalIgnoreCase))
            {
                return (route, match);
            }
        }

        return (UnknownRoute, null);
    }

    private FakeReply? TakeFault(FakeRequest request)
    {
        var fault = faults.FirstOrDefault(f => f.Key != AnyRoute && Applies(f.Key, request)) ?? faults.FirstOrDefault(f => f.Key == AnyRoute);
        if (fault is null)
        {
            return null;
        }

        if (--fault.Remaining <= 0)
        {
            faults.Remove(fault);
        }

        return fault.Reply;
    }

    private void Record(FakeRequest request, int status)
    {
        lock (Gate)
        {
            requests.Add(new RecordedRequest(Clock.GetUtcNow(), request.Method, request.RawPath, request.Path, request.QueryString, request.Route, request.Headers, request.Body, status)
            {
                Bytes = request.Bytes,
            });
        }
    }

    private sealed record Fault(string Key, FakeReply Reply)
    {
        public int Remaining { get; set; }
    }
}
