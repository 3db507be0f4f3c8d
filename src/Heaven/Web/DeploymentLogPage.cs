using Heaven.Output;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Web;

/// <summary>
/// <c>GET /deployments/{id}/log?expires=...&amp;token=...</c>: the masked log as plain text, served by any
/// node from the database. The token in the link is the only key, so a wrong one (or one from before
/// <c>heaven rotate-log-links</c>) looks exactly like a missing log; a genuine link past its lifetime
/// says that it has expired.
/// </summary>
internal static class DeploymentLogPage
{
    public const string NotFound = "No such log.\n";

    public const string Expired = "This log link has expired. Log links work for a limited time after they are issued (Heaven:LogLinkLifetime); ask an operator of this Heaven for the log.\n";

    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/deployments/{id:long}/log", async (long id, string? expires, string? token, HttpContext context, LogLinks links, IHeavenDatabase database, DeploymentLogReader reader) =>
        {
            var cancellationToken = context.RequestAborted;
            if (string.IsNullOrEmpty(token))
            {
                return Results.NotFound(NotFound);
            }

            DateTime? received;
            await using (var db = await database.OpenAsync(cancellationToken))
            {
                received = await db.Deployments.Where(d => d.Id == id).Select(d => (DateTime?)d.ReceivedAt).SingleOrDefaultAsync(cancellationToken);
            }

            if (received is null)
            {
                return Results.NotFound(NotFound);
            }

            var issuedBefore = new DateTimeOffset(DateTime.SpecifyKind(received.Value, DateTimeKind.Utc));
            switch (await links.CheckAsync(id, expires, token, issuedBefore, cancellationToken))
            {
                case LogLinkCheck.Invalid:
                    return Results.NotFound(NotFound);
                case LogLinkCheck.Expired:
                    NoStore(context);
                    return Results.Text(Expired, "text/plain; charset=utf-8", statusCode: StatusCodes.Status410Gone);
            }

            NoStore(context);
            context.Response.ContentType = "text/plain; charset=utf-8";
            await using var writer = new StreamWriter(context.Response.Body, new System.Text.UTF8Encoding(false), 64 * 1024);
            await reader.WriteTextAsync(id, writer, cancellationToken);
            await writer.FlushAsync(cancellationToken);
            return Results.Empty;
        });

    private static void NoStore(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.CacheControl = "no-store";
        headers.XContentTypeOptions = "nosniff";
        // The link carries its key: never hand it on to another site.
        headers["Referrer-Policy"] = "no-referrer";
    }
}
