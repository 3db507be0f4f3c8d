using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace Heaven.Notifications;

/// <summary>
/// Classic (37signals) Campfire: <c>POST /room/{id}/speak.json</c> with the API token as the basic-auth
/// user name. The room is <c>payload.notify.room</c> (as hubot's Campfire adapter sends it: the numeric
/// id), else Notifications:Campfire:Room; a room given by name is looked up in <c>/rooms.json</c>.
/// Campfire shows no links, so the message is plain text with the log's address written out.
/// </summary>
internal sealed class CampfireNotifier(IHttpClientFactory clients, IOptions<NotificationOptions> options) : INotifier
{
    private const string Service = "Campfire";

    private readonly CampfireOptions campfire = options.Value.Campfire;

    public string Name => "campfire";

    public bool IsConfigured => !string.IsNullOrEmpty(campfire.Token) && (!string.IsNullOrEmpty(campfire.Subdomain) || !string.IsNullOrEmpty(campfire.Url));

    public async Task SendAsync(DeploymentNotification message, CancellationToken cancellationToken)
    {
        var room = RoomName(message.Room) ?? RoomName(campfire.Room) ?? throw new NotifierException(
            "Campfire has no room to speak in: the deployment names none in payload.notify.room and Notifications:Campfire:Room (or CAMPFIRE_ROOM) is not set.",
            permanent: true);
        var roomId = room.All(char.IsAsciiDigit) ? room : await FindRoomAsync(room, cancellationToken);

        var text = message.PlainTextWithUrls();
        var body = new JsonObject
        {
            ["message"] = new JsonObject
            {
                ["body"] = text,
                // A text message is one line in Campfire; a paste keeps the commit list's lines.
                ["type"] = text.Contains('\n', StringComparison.Ordinal) ? "PasteMessage" : "TextMessage",
            },
        };
        var request = Request(HttpMethod.Post, $"/room/{Uri.EscapeDataString(roomId)}/speak.json");
        request.Content = JsonContent.Create(body);
        await NotifierHttp.SendAsync(clients, Service, request, cancellationToken);
    }

    private static string? RoomName(string? room) => room?.Trim().TrimStart('#') is { Length: > 0 } name ? name : null;

    /// <summary>Campfire addresses rooms by id; people name them. The rooms this token can see, by name.</summary>
    private async Task<string> FindRoomAsync(string name, CancellationToken cancellationToken)
    {
        var answer = await NotifierHttp.SendAsync(clients, Service, Request(HttpMethod.Get, "/rooms.json"), cancellationToken);
        JsonArray? rooms;
        try
        {
            rooms = JsonNode.Parse(answer.Body)?["rooms"] as JsonArray;
        }
        catch (JsonException)
        {
            rooms = null;
        }

        if (rooms is null)
        {
            throw new NotifierException("Campfire's room list (/rooms.json) could not be read.", permanent: false);
        }

        foreach (var room in rooms.OfType<JsonObject>())
        {
            if (room["name"] is JsonValue roomName && roomName.TryGetValue<string>(out var text) && string.Equals(text.Trim(), name, StringComparison.OrdinalIgnoreCase)
                && room["id"] is JsonValue id && id.TryGetValue<long>(out var number))
            {
                return number.ToString(CultureInfo.InvariantCulture);
            }
        }

        throw new NotifierException(
            $"Campfire has no room named '{name}' that this token can see; name one of its rooms, or give the room's numeric id.",
            permanent: true);
    }

    private HttpRequestMessage Request(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, campfire.ClassicBaseUrl + path);
        // Campfire's API takes the token as the user name and any password.
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{campfire.Token}:X")));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return request;
    }
}
