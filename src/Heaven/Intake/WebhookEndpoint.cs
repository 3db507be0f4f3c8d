using System.Buffers;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
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
    TimeProvider time,
    ILogger<WebhookEndpoint> logger)
{
    public const string Path = "/events";

    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapPost(Path, (HttpContext context, WebhookEndpoint endpoint) => endpoint.HandleAsync(context));

    public async Task<IResult> HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var eventName = request.Headers["X-GitHub-Event"].ToString();
        var deliveryId = request.Headers["X-GitHub-Delivery"].ToString();

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

        var body = await ReadBodyAsync(context, limit);
        if (body is null)
        {
            return Reject(StatusCodes.Status413PayloadTooLarge, $"The body is larger than the {limit} bytes Heaven accepts (Webhooks:MaxBodyBytes).", eventName, deliveryId);
        }

        switch (signatures.Check(request.Headers[SignatureVerifier.HeaderName], body.Value.Span))
        {
            case SignatureCheck.Missing:
                return Reject(StatusCodes.Status401Unauthorized, "The X-Hub-Signature-256 header is missing. Heaven only accepts signed webhooks: set the webhook's secret in GitHub to Heaven's secret.", eventName, deliveryId);
            case SignatureCheck.Malformed:
                return Reject(StatusCodes.Status401Unauthorized, "The X-Hub-Signature-256 header is not of the form sha256=<64 hex digits>.", eventName, deliveryId);
            case SignatureCheck.Mismatch:
                return Reject(StatusCodes.Status401Unauthorized, "The X-Hub-Signature-256 signature does not match: the webhook's secret in GitHub differs from Heaven's.", eventName, deliveryId);
        }

        WebhookEvent parsed;
        try
        {
            parsed = WebhookEventReader.Read(eventName, body.Value);
        }
        catch (MalformedPayloadException e)
        {
            return Reject(StatusCodes.Status400BadRequest, $"The {eventName} delivery cannot be used: {e.Message}", eventName, deliveryId);
        }

        var allowed = allowList.Allows(parsed.Repository);
        RecordedDelivery recorded;
        try
        {
            recorded = await recorder.RecordAsync(new IncomingDelivery(deliveryId, parsed, allowed, time.GetUtcNow().UtcDateTime), context.RequestAborted);
        }
        catch (DeliveryNotRecordedException e)
        {
            return Reject(StatusCodes.Status503ServiceUnavailable, e.Message, eventName, deliveryId);
        }

        Log.Recorded(logger, eventName, deliveryId, parsed.Repository ?? "-", recorded.Result);
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
        // Header values are the sender's words: only well-formed ones are repeated into the log.
        Log.Rejected(logger, status, IsEventName(eventName) ? eventName : "-", IsDeliveryId(deliveryId) ? deliveryId : "-", message);
        return Results.Json(
            new WebhookAnswer("rejected", message, IsDeliveryId(deliveryId) ? deliveryId : null, null),
            WebhookAnswerJson.Readable,
            statusCode: status);
    }

    /// <summary>Reads at most <paramref name="limit"/> bytes; null when the body is longer.</summary>
    private static async Task<ReadOnlyMemory<byte>?> ReadBodyAsync(HttpContext context, long limit)
    {
        // Our own limit replaces Kestrel's default (30 MB), so a configured larger one works too.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = null;
        }

        var buffer = new ArrayBufferWriter<byte>((int)Math.Clamp(context.Request.ContentLength ?? 16 * 1024, 1, limit + 1));
        var stream = context.Request.Body;
        while (true)
        {
            var span = buffer.GetMemory(16 * 1024);
            var read = await stream.ReadAsync(span, context.RequestAborted);
            if (read == 0)
            {
                return buffer.WrittenMemory;
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > limit)
            {
                return null;
            }
        }
    }

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
