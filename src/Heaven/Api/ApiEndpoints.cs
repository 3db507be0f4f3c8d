namespace Heaven.Api;

/// <summary>The JSON API under <c>/api/v1</c>: each endpoint maps itself onto the one group the host creates.</summary>
internal static class ApiEndpoints
{
    public const string Prefix = "/api/v1";

    public static RouteGroupBuilder MapApi(this RouteGroupBuilder api)
    {
        DeploymentLogEndpoint.Map(api);
        return api;
    }
}
