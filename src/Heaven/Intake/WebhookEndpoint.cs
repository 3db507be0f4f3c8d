using System.Buffers;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Options;
using Heaven.Telemetry;
using Microsoft.Net.Http.Headers;

namespace Heaven.Intake;

/// <summary>
/// <c>POST /events</c>, GitHub's webhook endpoint (the original Heaven's path). The checks run cheapest
/// and safest first: nothing from the body is parsed before the signature is verified, nothing is
/// stored for a delivery that fails any check, and the answer waits only for the database commit.
/// </summary>
internal sealed partial class WebhookEndpoint(
    SignatureVerifier signatures,
    IDeliveryRecorder recorder,
    RepositoryAllowList allowList,
    SourceAddressFilter sourceAddresses,
    IOptions<WebhookOptions> options,
    PendingBodyBudget pendingBodies,
    TimeProvider time,
    HeavenMetrics metrics,
    ILogger<WebhookEndpoint> logger)
{
    public const string Path = "/events";

    /// <summary>What a 503 for a full pending-body budget asks to wait: bodies in flight finish or time out within seconds.</summary>
    private const int RetryAfterSeconds = 5;

    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapPost(Path, (HttpContext context, WebhookEndpoint endpoint) => endpoint.HandleAsync(context));

    public async Task<IResult> HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var eventName = request.Headers["X-GitHub-Event"].ToString();
        var deliveryId = request.Headers["X-GitHub-Delivery"].ToString();
        // The root of a deployment's trace (under the request's own span): the deployment row and the
        // work items recorded here keep its context, and the later spans continue from it.
        using var span = HeavenTracing.Source.StartActivity(HeavenTracing.IntakeSpan);
        if (span is not null)
        {
            span.SetTag(HeavenTracing.EventAttribute, IsEventName(eventName) ? eventName : null);
            span.SetTag(HeavenTracing.DeliveryIdAttribute, IsDeliveryId(deliveryId) ? deliveryId : null);
        }

        var source = context.Connection.RemoteIpAddress;
        switch (await sourceAddresses.CheckAsync(source, context.RequestAborted))
        {
            case SourceAddressCheck.Denied:
                return Reject(StatusCodes.Status403Forbidden, $"The sender's address {source} is not in the hook ranges GitHub publishes at /meta (Webhooks:VerifySourceAddress is on).", eventName, deliveryId);
            case SourceAddressCheck.Unknown:
                return Reject(StatusCodes.Status503ServiceUnavailable, "Heaven cannot verify the sender's address: GitHub's /meta could not be read and no earlier copy of its hook ranges is saved (Webhooks:VerifySourceAddress is on). Check that Heaven can reach GitHub:ApiUrl; the delivery can be redelivered from GitHub's webhook settings.", eventName, deliveryId);
        }

        if (!IsJson(request.ContentType))
        {
            var sent = string.IsNullOrEmpty(request.ContentType) ? "no content type" : $"'{request.ContentType}'";
            return Reject(StatusCodes.Status415UnsupportedMediaType, $"Heaven needs JSON webhooks, but this delivery was sent with {sent}. In the GitHub webhook settings, set 'Content type' to application/json.", eventName, deliveryId);
        }

        var limit = options.Value.MaxBodyBytes;
        if (request.ContentLength > limit)
        {
            return Reject(StatusCodes.Status413PayloadTooLarge, $"The body is {request.ContentLength} bytes; Heaven accepts at most {limit} (Webhooks:MaxBodyBytes).", eventName, deliveryId);
        }

        if (!IsEventName(eventName))
        {
            return Reject(StatusCodes.Status400BadRequest, "The X-GitHub-Event header is missing or is not an event name.", eventName, deliveryId);
        }

        if (!IsDeliveryId(deliveryId))
        {
            return Reject(StatusCodes.Status400BadRequest, "The X-GitHub-Delivery header is missing or is not a delivery id (up to 128 letters, digits and dashes).", eventName, deliveryId);
        }

        using var body = await ReadBodyAsync(context, limit, eventName, deliveryId);
        if (body.Refusal is not null)
        {
            return body.Refusal;
        }

        var bytes = body.Body!.Bytes;
        // The one thing read before the signature holds: which repository's secret it must be made with.
        var claimed = ClaimedRepository.Of(bytes);
        var (check, secrets) = signatures.Check(request.Headers[SignatureVerifier.HeaderName], bytes, claimed);
        var whose = secrets.Repository is { } own
            ? $"the secret Heaven keeps for {own} ({RepositorySecretKey(own)})"
            : "Heaven's";
        switch (check)
        {
            case SignatureCheck.Missing:
                return Reject(StatusCodes.Status401Unauthorized, "The X-Hub-Signature-256 header is missing. Heaven only accepts signed webhooks: set the webhook's secret in GitHub to Heaven's secret.", eventName, deliveryId);
            case SignatureCheck.Malformed:
                return Reject(StatusCodes.Status401Unauthorized, "The X-Hub-Signature-256 header is not of the form sha256=<64 hex digits>.", eventName, deliveryId);
            case SignatureCheck.Mismatch:
                return Reject(StatusCodes.Status401Unauthorized, $"The X-Hub-Signature-256 signature does not match: the webhook's secret in GitHub differs from {whose}.", eventName, deliveryId);
        }

        body.Body.Verified();
        WebhookEvent parsed;
        try
        {
            parsed = WebhookEventReader.Read(eventName, bytes);
        }
        catch (MalformedPayloadException e)
        {
            return Reject(StatusCodes.Status400BadRequest, $"The {eventName} delivery cannot be used: {e.Message}", eventName, deliveryId);
        }

        if (!string.Equals(parsed.Repository, claimed, StringComparison.Ordinal))
        {
            // The secret was chosen for one repository and the event is for another: a body that
            // names repository.full_name twice. Never let a secret sign for a repository it is not for.
            return Reject(StatusCodes.Status400BadRequest, $"The {eventName} delivery cannot be used: it names more than one repository.full_name.", eventName, deliveryId);
        }

        var allowed = allowList.Allows(parsed.Repository);
        RecordedDelivery recorded;
        try
        {
            recorded = await recorder.RecordAsync(new IncomingDelivery(deliveryId, parsed, allowed, time.GetUtcNow().UtcDateTime, bytes.ToArray(), Headers: StoredHeaders.From(request.Headers), TraceParent: HeavenTracing.CurrentTraceParent()), context.RequestAborted);
        }
        catch (DeliveryNotRecordedException e)
        {
            return Reject(StatusCodes.Status503ServiceUnavailable, e.Message, eventName, deliveryId);
        }

        Log.Recorded(logger, eventName, deliveryId, parsed.Repository ?? "-", recorded.Result);
        metrics.WebhookDelivery(MetricEventName(eventName), recorded.Result.ToString().ToLowerInvariant());
        if (span is not null)
        {
            span.SetTag(HeavenTracing.RepositoryAttribute, parsed.Repository);
            span.SetTag(HeavenTracing.DeploymentIdAttribute, recorded.DeploymentId);
            if (parsed is WebhookEvent.Deployment deployment)
            {
                span.SetTag(HeavenTracing.GitHubDeploymentIdAttribute, deployment.Request.GitHubDeploymentId);
            }
        }

        var status = recorded.Result switch
        {
            DeliveryResult.Duplicate => StatusCodes.Status200OK,
            DeliveryResult.Accepted when parsed is WebhookEvent.Ping => StatusCodes.Status200OK,
            _ => StatusCodes.Status202Accepted,
        };
        return Results.Json(
            new WebhookAnswer(recorded.Result.ToString().ToLowerInvariant(), recorded.Message, deliveryId, recorded.DeploymentId),
            WebhookAnswerJson.Readable,
            statusCode: status);
    }

    private IResult Reject(int status, string message, string eventName, string deliveryId)
    {
        metrics.WebhookDelivery(MetricEventName(eventName), "rejected");
        // Header values are the sender's words: only well-formed ones are repeated into the log.
        Log.Rejected(logger, status, IsEventName(eventName) ? eventName : "-", IsDeliveryId(deliveryId) ? deliveryId : "-", message);
        return Results.Json(
            new WebhookAnswer("rejected", message, IsDeliveryId(deliveryId) ? deliveryId : null, null),
            WebhookAnswerJson.Readable,
            statusCode: status);
    }

    /// <summary>
    /// Reads the body within the limits an unauthenticated sender gets: at most <paramref name="limit"/>
    /// bytes, room in the pending-body budget for each part as it arrives, the whole within
    /// <c>Webhooks:BodyTimeout</c> and no slower than <c>Webhooks:MinBodyBytesPerSecond</c>. Either the
    /// body or the answer that refuses it.
    /// </summary>
    private async Task<BodyOrRefusal> ReadBodyAsync(HttpContext context, long limit, string eventName, string deliveryId)
    {
        var settings = options.Value;
        // Our own limit replaces Kestrel's default (30 MB), so a configured larger one works too.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = null;
        }

        // Set here, for this endpoint, so the rule is Heaven's setting and not whatever Kestrel defaults to.
        if (context.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } rateFeature)
        {
            rateFeature.MinDataRate = settings.MinBodyBytesPerSecond > 0
                ? new MinDataRate(settings.MinBodyBytesPerSecond, WebhookOptions.MinBodyDataRateGracePeriod)
                : null;
        }

        using var deadline = new CancellationTokenSource(settings.BodyTimeout, time);
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, context.RequestAborted);
        try
        {
            var (body, refusal) = await WebhookBody.ReadAsync(context.Request.Body, limit, pendingBodies, reading.Token);
            return refusal switch
            {
                BodyRefusal.None => new BodyOrRefusal(body, null),
                BodyRefusal.TooLarge => new BodyOrRefusal(null, Reject(StatusCodes.Status413PayloadTooLarge, $"The body is larger than the {limit} bytes Heaven accepts (Webhooks:MaxBodyBytes).", eventName, deliveryId)),
                _ => new BodyOrRefusal(null, Busy(context, eventName, deliveryId)),
            };
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            CloseAfterAnswer(context);
            return new BodyOrRefusal(null, Reject(StatusCodes.Status408RequestTimeout, $"The body did not arrive within {settings.BodyTimeout} (Webhooks:BodyTimeout).", eventName, deliveryId));
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status408RequestTimeout)
        {
            // Kestrel cut the body off: it came slower than the minimum data rate.
            return new BodyOrRefusal(null, Reject(StatusCodes.Status408RequestTimeout, $"The body arrived slower than {settings.MinBodyBytesPerSecond} bytes a second (Webhooks:MinBodyBytesPerSecond).", eventName, deliveryId));
        }
    }

    /// <summary>503: the bodies not yet verified already fill the budget. Nothing more of this one is read.</summary>
    private IResult Busy(HttpContext context, string eventName, string deliveryId)
    {
        context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        CloseAfterAnswer(context);
        return Reject(
            StatusCodes.Status503ServiceUnavailable,
            $"Heaven is receiving more webhook bodies at once than it holds before their signatures are checked (Webhooks:MaxPendingBodyBytes, {pendingBodies.Capacity} bytes). Retry in {RetryAfterSeconds} seconds, or redeliver it from GitHub's webhook settings.",
            eventName,
            deliveryId);
    }

    /// <summary>The rest of an unread body is not drained: the connection ends with the answer.</summary>
    private static void CloseAfterAnswer(HttpContext context) => context.Response.Headers.Connection = "close";

    private static string RepositorySecretKey(string repository) => $"Repositories:{repository}:WebhookSecret";

    /// <summary>A body that was read, or the answer refusing it; disposing returns the body's buffers.</summary>
    private readonly record struct BodyOrRefusal(WebhookBody? Body, IResult? Refusal) : IDisposable
    {
        public void Dispose() => Body?.Dispose();
    }

    /// <summary>
    /// The event as a metric label: the events Heaven knows by name, every other one as "other", so a
    /// sender cannot grow the metrics with names of its own.
    /// </summary>
    private static string MetricEventName(string eventName) =>
        eventName is "deployment" or "deployment_status" or "status" or "check_suite" or "ping" ? eventName : "other";

    private static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media) && media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase);

    private static bool IsEventName(string value) => EventNameShape().IsMatch(value);

    private static bool IsDeliveryId(string value) => DeliveryIdShape().IsMatch(value);

    [GeneratedRegex("^[a-z][a-z_]{0,63}$")]
    private static partial Regex EventNameShape();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9-]{0,127}$")]
    private static partial Regex DeliveryIdShape();

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {Event} delivery {DeliveryId} for {Repository}: {Result}")]
        public static partial void Recorded(ILogger logger, string @event, string deliveryId, string repository, DeliveryResult result);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {Event} delivery {DeliveryId} rejected with {Status}: {Reason}")]
        public static partial void Rejected(ILogger logger, int status, string @event, string deliveryId, string reason);
    }
}

/// <summary>The JSON body of every answer from <c>/events</c>; shown in GitHub's "Recent Deliveries".</summary>
public sealed record WebhookAnswer(string Result, string Message, string? Delivery, long? Deployment);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(
    PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
[System.Text.Json.Serialization.JsonSerializable(typeof(WebhookAnswer))]
internal sealed partial class WebhookAnswerJson : System.Text.Json.Serialization.JsonSerializerContext
{
    /// <summary>Answers are read by people in GitHub's delivery log: keep quotes and apostrophes as they are.</summary>
    public static System.Text.Json.JsonSerializerOptions Readable { get; } = new()
    {
        TypeInfoResolver = Default,
        PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
