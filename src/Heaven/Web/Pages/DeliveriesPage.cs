using System.Text.Json;
using Heaven.Operations;
using Heaven.Storage;

namespace Heaven.Web.Pages;

/// <summary>
/// <c>/deliveries</c>: the webhook delivery log, newest first; <c>/deliveries/{id}</c>: one delivery
/// with its stored body, and a button to run it through the intake again. Administrators only: the
/// log spans every repository and keeps the payloads.
/// </summary>
internal static class DeliveriesPage
{
    public const int PageSize = 100;

    private const string What = "see the webhook deliveries (they span every repository and keep the payloads)";

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/deliveries", async (HttpContext context, ActivityQueries queries, long? before) =>
        {
            var kit = AdminPages.Kit(context);
            if (!kit.IsAdmin)
            {
                return kit.Forbidden(PageSection.Deliveries, What);
            }

            var deliveries = await queries.DeliveriesAsync(PageSize, kit.Aborted, before);
            return kit.Page("Deliveries", PageSection.Deliveries, List(deliveries, kit.Now));
        });

        endpoints.MapGet("/deliveries/{deliveryId}", async (string deliveryId, HttpContext context, ActivityQueries queries, IHeavenDatabase database) =>
        {
            var kit = AdminPages.Kit(context);
            if (!kit.IsAdmin)
            {
                return kit.Forbidden(PageSection.Deliveries, What);
            }

            return await DetailAsync(kit, queries, database, deliveryId, null);
        });

        endpoints.MapPost("/deliveries/{deliveryId}/redeliver", async (string deliveryId, HttpContext context, ActivityQueries queries, IHeavenDatabase database, DeploymentActions actions) =>
        {
            var kit = AdminPages.Kit(context);
            if (!kit.IsAdmin)
            {
                return kit.Forbidden(PageSection.Deliveries, "redeliver webhooks");
            }

            if (await kit.ReadFormAsync() is null)
            {
                return kit.FormRefused(PageSection.Deliveries);
            }

            var report = await actions.RedeliverReportAsync(deliveryId, kit.Aborted);
            return await DetailAsync(kit, queries, database, deliveryId, report);
        });
    }

    private static Html List(IReadOnlyList<DeliverySummary> deliveries, DateTimeOffset now)
    {
        if (deliveries.Count == 0)
        {
            return Html.Of($"<p class=\"empty\">No deliveries yet. GitHub's webhooks arrive at <code>POST /events</code>.</p>");
        }

        var rows = deliveries.Select(d => Html.Of($"""
            <tr>
            <td>{RelativeTime.Tag(d.ReceivedAt, now)}</td>
            <td class="event">{d.Event}{(d.Action is { } action ? Html.Of($" <span class=\"muted\">{action}</span>") : Html.Empty)}</td>
            <td class="result result-{d.Result}">{d.Result}</td>
            <td class="repository">{d.Repository ?? "—"}</td>
            <td class="delivery-id"><a href="{Html.Url("/deliveries/" + Uri.EscapeDataString(d.DeliveryId))}"><code>{d.DeliveryId}</code></a></td>
            <td class="message">{d.Message}</td>
            </tr>
            """));
        var older = deliveries.Count == PageSize
            ? Html.Of($"<p><a href=\"{Html.Url($"/deliveries?before={deliveries[^1].Id}")}\">Older deliveries</a></p>")
            : Html.Empty;
        return Html.Of($"""
            <div class="table-scroll">
            <table class="deliveries">
            <thead><tr><th>Received</th><th>Event</th><th>Result</th><th>Repository</th><th>Delivery</th><th>Message</th></tr></thead>
            <tbody>
            {rows}
            </tbody>
            </table>
            </div>
            {older}
            """);
    }

    private static async Task<IResult> DetailAsync(AdminPageKit kit, ActivityQueries queries, IHeavenDatabase database, string deliveryId, RedeliveryReport? report)
    {
        var detail = await queries.DeliveryAsync(deliveryId, kit.Aborted);
        if (detail is null)
        {
            return kit.Page("No such delivery", PageSection.Deliveries, Html.Of($"""
                <p class="notice notice-error" role="alert">There is no delivery {deliveryId} in the delivery log (housekeeping may have removed it).</p>
                <p><a href="/deliveries">All deliveries</a></p>
                """), StatusCodes.Status404NotFound);
        }

        var d = detail.Delivery;
        var outcome = report is null
            ? Html.Empty
            : report.Recorded
                ? Html.Of($"""
                    <div class="notice notice-success redelivery" role="status">
                    <p>Redelivered as <a href="{Html.Url("/deliveries/" + Uri.EscapeDataString(report.NewDeliveryId ?? ""))}"><code>{report.NewDeliveryId}</code></a>. The intake answered: <strong>{report.Result}</strong>: {report.Message}</p>
                    </div>
                    """)
                : AdminPageKit.Notice(report.Message, success: false);
        var redeliver = d.CanRedeliver
            ? Html.Of($"""
                <form method="post" action="{Html.Url("/deliveries/" + Uri.EscapeDataString(d.DeliveryId) + "/redeliver")}" data-confirm="Run delivery {d.DeliveryId} ({d.Event}) through the intake again?">
                {kit.FormFields}
                <button type="submit">Redeliver</button>
                </form>
                """)
            : Html.Of($"<p class=\"muted\">This delivery was received before Heaven kept webhook bodies; redeliver it from GitHub's webhook settings instead.</p>");
        var deployment = d.DeploymentId is { } id ? Html.Text(id.ToString(System.Globalization.CultureInfo.InvariantCulture)) : Html.Text("—");
        var redeliveryOf = d.RedeliveryOf is { } original
            ? Html.Of($"<a href=\"{Html.Url("/deliveries/" + Uri.EscapeDataString(original))}\"><code>{original}</code></a>")
            : Html.Text("—");
        var headers = detail.Headers.Select(h => Html.Of($"<dt>{h.Key}</dt><dd><code>{h.Value}</code></dd>"));
        var content = Html.Of($"""
            {outcome}
            <p><a href="/deliveries">All deliveries</a></p>
            <h2>Stored headers</h2>
            <dl class="delivery-headers">
            <dt>X-GitHub-Event</dt><dd><code>{d.Event}</code></dd>
            <dt>X-GitHub-Delivery</dt><dd><code>{d.DeliveryId}</code></dd>
            {headers}
            </dl>
            <p class="muted">The signature headers were checked when the delivery arrived and are not stored, nor are credentials, cookies or headers naming a secret or token.</p>
            <h2>What Heaven made of it</h2>
            <dl class="delivery-facts">
            <dt>Received</dt><dd>{RelativeTime.Tag(d.ReceivedAt, kit.Now)}</dd>
            <dt>Action</dt><dd>{d.Action ?? "—"}</dd>
            <dt>Repository</dt><dd>{d.Repository ?? "—"}</dd>
            <dt>Result</dt><dd class="result result-{d.Result}">{d.Result}</dd>
            <dt>Message</dt><dd class="message">{d.Message}</dd>
            <dt>Deployment</dt><dd>{deployment}</dd>
            <dt>Redelivery of</dt><dd>{redeliveryOf}</dd>
            </dl>
            {redeliver}
            <h2>Body</h2>
            <pre class="delivery-body"><code>{PrettyBody(detail.Body)}</code></pre>
            """);
        return kit.Page($"Delivery {d.DeliveryId}", PageSection.Deliveries, content);
    }

    /// <summary>The body indented when it is JSON, as it came otherwise; text either way (the page encodes it).</summary>
    internal static string PrettyBody(string? body)
    {
        if (body is null)
        {
            return "(not kept)";
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            return JsonSerializer.Serialize(document.RootElement, PrettyJson);
        }
        catch (JsonException)
        {
            return body;
        }
    }

    private static readonly JsonSerializerOptions PrettyJson = new()
    {
        WriteIndented = true,
        // The page encodes the text; the JSON itself keeps every character as sent.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
