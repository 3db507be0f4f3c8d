using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Heaven.Access;
using Heaven.Model;
using Heaven.Operations;
using Heaven.Output;
using Microsoft.AspNetCore.Http.Features;

namespace Heaven.Api;

/// <summary>
/// <c>GET /api/v1/deployments/{id}/log</c>: the masked log as plain text, or followed live as
/// Server-Sent Events (<c>Accept: text/event-stream</c>): a <c>line</c> event per line whose id is the
/// line's number (so <c>Last-Event-ID</c> resumes after it), then one <c>end</c> event with the outcome.
/// Live output beyond <see cref="LivePace.Viewer"/> (a flood) comes as its newest lines after a <c>gap</c>
/// event naming the lines left out, so viewers never cost the deploy; the plain text log keeps every line.
/// Any node serves it; the node running the deploy sends each line as it is printed.
/// </summary>
internal static class DeploymentLogEndpoint
{
    public const string EventStream = "text/event-stream";

    /// <summary>A comment this often keeps proxies from closing a quiet stream.</summary>
    public static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(15);

    /// <summary>Lines already there are sent together, a flush at most per this many bytes.</summary>
    private const int FlushBytes = 32 * 1024;

    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly byte[] KeepAlive = ": keepalive\n\n"u8.ToArray();

    private static readonly JsonEncodedText StreamProperty = JsonEncodedText.Encode("stream");
    private static readonly JsonEncodedText TextProperty = JsonEncodedText.Encode("text");
    private static readonly JsonEncodedText Stdout = JsonEncodedText.Encode("stdout");
    private static readonly JsonEncodedText Stderr = JsonEncodedText.Encode("stderr");
    private static readonly JsonEncodedText HeavenStream = JsonEncodedText.Encode("heaven");

    public static void Map(RouteGroupBuilder api) =>
        api.MapGet("/deployments/{id:long}/log", async (long id, HttpContext context, DeploymentLogFollower follower, DeploymentLogReader reader, DeploymentQueries queries) =>
        {
            var cancellationToken = context.RequestAborted;
            var state = await follower.StateAsync(id, cancellationToken);
            var repository = state is null ? null : await queries.RepositoryOfAsync(id, cancellationToken);
            if (state is null || repository is null)
            {
                return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such deployment", detail: $"There is no deployment {id}.");
            }

            if (await ApiCaller.RequireAsync(context, repository, RepositoryPermission.Read) is { } refused)
            {
                return refused;
            }

            context.Response.Headers.CacheControl = "no-store";
            context.Response.Headers.XContentTypeOptions = "nosniff";
            if (WantsEvents(context.Request))
            {
                if (!TryResumePoint(context.Request, out var fromLine))
                {
                    return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad Last-Event-ID", detail: "Last-Event-ID must be the number of a line this endpoint sent.");
                }

                await StreamEventsAsync(context, follower, id, fromLine, context.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System, cancellationToken);
                return Results.Empty;
            }

            context.Response.ContentType = "text/plain; charset=utf-8";
            await using var writer = new StreamWriter(context.Response.Body, new UTF8Encoding(false), 64 * 1024);
            await reader.WriteTextAsync(id, writer, cancellationToken);
            await writer.FlushAsync(cancellationToken);
            return Results.Empty;
        })
        .RequireAuthorization(AccessPolicies.Read)
        .WithName("GetDeploymentLog")
        .WithSummary("The masked log as text/plain, or followed live as Server-Sent Events (Accept: text/event-stream).")
        .Produces<string>(StatusCodes.Status200OK, "text/plain", EventStream)
        .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);

    private static bool WantsEvents(HttpRequest request)
    {
        var accept = request.GetTypedHeaders().Accept;
        return accept.Any(a => a.MediaType.Equals(EventStream, StringComparison.OrdinalIgnoreCase) && a.Quality is not 0);
    }

    /// <summary>The line after the one named by <c>Last-Event-ID</c> (0 without it).</summary>
    private static bool TryResumePoint(HttpRequest request, out long fromLine)
    {
        fromLine = 0;
        var lastEventId = request.Headers["Last-Event-ID"].ToString();
        if (string.IsNullOrWhiteSpace(lastEventId))
        {
            return true;
        }

        if (!long.TryParse(lastEventId.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var last) || last == long.MaxValue)
        {
            return false;
        }

        fromLine = last + 1;
        return true;
    }

    private static async Task StreamEventsAsync(HttpContext context, DeploymentLogFollower follower, long id, long fromLine, TimeProvider time, CancellationToken cancellationToken)
    {
        var response = context.Response;
        response.ContentType = EventStream;
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var output = response.BodyWriter;
        // The headers go out at once, so a client knows it is connected before the first line.
        await output.FlushAsync(cancellationToken);

        var pending = 0L;
        Task? keepAlive = null;
        var fullLog = (context.Request.PathBase + context.Request.Path).ToString();
        await using var json = new Utf8JsonWriter(output, JsonOptions);
        await using (var lines = follower.FollowAsync(id, fromLine, LivePace.Viewer, cancellationToken).GetAsyncEnumerator(cancellationToken))
        {
            while (true)
            {
                var move = lines.MoveNextAsync();
                if (!move.IsCompleted)
                {
                    // Nothing more at hand: what was written goes out now, then wait, with a comment now and then.
                    if (pending > 0)
                    {
                        await output.FlushAsync(cancellationToken);
                        pending = 0;
                    }

                    var next = move.AsTask();
                    while (true)
                    {
                        keepAlive ??= Task.Delay(KeepAliveInterval, time, cancellationToken);
                        if (await Task.WhenAny(next, keepAlive) == next)
                        {
                            break;
                        }

                        keepAlive = null;
                        output.Write(KeepAlive);
                        await output.FlushAsync(cancellationToken);
                    }

                    move = new ValueTask<bool>(next);
                }

                if (!await move)
                {
                    break;
                }

                pending += lines.Current.Gap ? WriteGap(output, lines.Current, fullLog) : WriteLine(output, json, lines.Current.Line);
                if (pending >= FlushBytes)
                {
                    await output.FlushAsync(cancellationToken);
                    pending = 0;
                }
            }
        }

        var final = await follower.StateAsync(id, cancellationToken);
        WriteEnd(output, final);
        await output.FlushAsync(cancellationToken);
    }

    private static long WriteLine(PipeWriter output, Utf8JsonWriter json, LogLine line)
    {
        var before = output.UnflushedBytes;
        output.Write("event: line\nid: "u8);
        WriteNumber(output, line.Number);
        output.Write("\ndata: "u8);
        // One writer for the whole stream, reset per line: a flood sends thousands of lines to each viewer.
        json.Reset(output);
        json.WriteStartObject();
        json.WriteString(StreamProperty, StreamName(line.Stream));
        json.WriteString(TextProperty, line.Text);
        json.WriteEndObject();
        json.Flush();
        output.Write("\n\n"u8);
        return output.UnflushedBytes - before;
    }

    /// <summary>Lines left out of a live view of a flood: the id is the last one's, so a resume goes on after them.</summary>
    private static long WriteGap(PipeWriter output, LogFollowItem gap, string fullLog)
    {
        var before = output.UnflushedBytes;
        Write(output, "event: gap\nid: ");
        Write(output, gap.Last.ToString(CultureInfo.InvariantCulture));
        Write(output, "\ndata: ");
        using (var json = new Utf8JsonWriter(output, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteNumber("first", gap.First);
            json.WriteNumber("last", gap.Last);
            json.WriteNumber("skipped", gap.SkippedLines);
            json.WriteString("log", fullLog);
            json.WriteString("text", string.Create(CultureInfo.InvariantCulture, $"{gap.SkippedLines} lines skipped here: they came faster than a live view shows them. The full log is at {fullLog}"));
            json.WriteEndObject();
        }

        Write(output, "\n\n");
        return output.UnflushedBytes - before;
    }

    private static void WriteEnd(PipeWriter output, DeploymentLogState? state)
    {
        Write(output, "event: end\ndata: ");
        using (var json = new Utf8JsonWriter(output, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteString("state", state is null ? "unknown" : ApiStates.Name(state.State));
            json.WriteString("description", state?.Description);
            json.WriteEndObject();
        }

        Write(output, "\n\n");
    }

    private static JsonEncodedText StreamName(OutputStream stream) => stream switch
    {
        OutputStream.Stdout => Stdout,
        OutputStream.Stderr => Stderr,
        _ => HeavenStream,
    };

    private static void WriteNumber(PipeWriter output, long number)
    {
        var span = output.GetSpan(20);
        number.TryFormat(span, out var written, provider: CultureInfo.InvariantCulture);
        output.Advance(written);
    }

    private static void Write(PipeWriter output, string ascii)
    {
        var span = output.GetSpan(ascii.Length);
        var written = Encoding.ASCII.GetBytes(ascii, span);
        output.Advance(written);
    }
}
