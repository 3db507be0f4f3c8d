namespace Heaven.Web;

/// <summary>
/// The element heaven.js turns into a live log: it opens an EventSource on <c>data-log-stream</c>
/// (the deployment's <c>GET /api/v1/deployments/{id}/log</c>), appends each line, follows the bottom
/// and shows the final state. Without the script the status line says so.
/// </summary>
public static class LiveLogView
{
    public static string StreamPath(long deploymentId) => $"/api/v1/deployments/{deploymentId}/log";

    public static Html Render(long deploymentId) => Render(StreamPath(deploymentId), deploymentId);

    public static Html Render(string streamPath, long deploymentId) => Html.Of($"""
        <section class="live-log" aria-label="Log of deployment {deploymentId}" data-log-stream="{Html.Url(streamPath)}">
        <p class="log-status" data-log-status role="status">The live log needs JavaScript.</p>
        <div class="log-lines" data-log-lines role="log" tabindex="0"></div>
        </section>
        """);
}
