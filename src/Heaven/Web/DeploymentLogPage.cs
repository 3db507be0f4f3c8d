using Heaven.Output;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Web;

/// <summary>
/// <c>GET /deployments/{id}/log?token=...</c>: the masked log as plain text, served by any node from the
/// database. The token in the link is the only key, so a wrong one looks exactly like a missing log.
/// </summary>
internal static class DeploymentLogPage
{
    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/deployments/{id:long}/log", async (long id, string? token, HttpContext context, LogLinks links, IHeavenDatabase database, DeploymentLogReader reader) =>
        {
            var cancellationToken = context.RequestAborted;
            if (!await links.IsValidAsync(id, token, cancellationToken))
            {
                return Results.NotFound("No such log.\n");
            }

            await using (var db = await database.OpenAsync(cancellationToken))
            {
                if (!await db.Deployments.AnyAsync(d => d.Id == id, cancellationToken))
                {
                    return Results.NotFound("No such log.\n");
                }
            }

            var headers = context.Response.Headers;
            headers.CacheControl = "no-store";
            headers.XContentTypeOptions = "nosniff";
            // The link carries its key: never hand it on to another site.
            headers["Referrer-Policy"] = "no-referrer";
            context.Response.ContentType = "text/plain; charset=utf-8";
            await using var writer = new StreamWriter(context.Response.Body, new System.Text.UTF8Encoding(false), 64 * 1024);
            await reader.WriteTextAsync(id, writer, cancellationToken);
            await writer.FlushAsync(cancellationToken);
            return Results.Empty;
        });
}
