using System.Buffers;
using System.Text.Json;

namespace Heaven.Intake;

/// <summary>
/// The <c>repository.full_name</c> a body names, read before its signature is checked. It is used for
/// one thing only, to choose which secret the signature must be made with; nothing else of the body is
/// believed until the signature holds, and the endpoint then checks that the parsed event names the
/// same repository.
/// </summary>
internal static class ClaimedRepository
{
    /// <summary>The name, or null when the body names none or is not JSON Heaven would read.</summary>
    public static string? Of(in ReadOnlySequence<byte> body)
    {
        // A forward-only reader: no tree is built for a sender who may not know the secret.
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = WebhookEventReader.MaxDepth });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            string? name = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isRepository = reader.ValueTextEquals("repository"u8);
                reader.Read();
                if (!isRepository)
                {
                    reader.Skip();
                    continue;
                }

                // The last one counts, as for the parser; a body that names two is refused after the check anyway.
                name = null;
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isFullName = reader.ValueTextEquals("full_name"u8);
                    reader.Read();
                    if (isFullName)
                    {
                        name = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    }

                    reader.Skip();
                }
            }

            return name;
        }
        catch (JsonException)
        {
            // Not JSON (or nested too deep): the server-wide secret decides, and the parser then refuses the body.
            return null;
        }
        catch (InvalidOperationException)
        {
            // A string that is not valid UTF-8 text.
            return null;
        }
    }
}
