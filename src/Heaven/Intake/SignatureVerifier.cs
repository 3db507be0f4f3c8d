using System.Security.Cryptography;

namespace Heaven.Intake;

public enum SignatureCheck
{
    Valid,
    Missing,
    Malformed,
    Mismatch,
}

/// <summary>Checks <c>X-Hub-Signature-256</c>: HMAC-SHA256 of the raw body, compared in constant time.</summary>
public sealed class SignatureVerifier(WebhookSecrets secrets)
{
    public const string HeaderName = "X-Hub-Signature-256";
    private const string Prefix = "sha256=";

    public SignatureCheck Check(string? header, ReadOnlySpan<byte> body)
    {
        if (string.IsNullOrEmpty(header))
        {
            return SignatureCheck.Missing;
        }

        if (!header.StartsWith(Prefix, StringComparison.Ordinal) || header.Length != Prefix.Length + 64)
        {
            return SignatureCheck.Malformed;
        }

        Span<byte> claimed = stackalloc byte[32];
        if (Convert.FromHexString(header.AsSpan(Prefix.Length), claimed, out _, out var written) != System.Buffers.OperationStatus.Done || written != 32)
        {
            return SignatureCheck.Malformed;
        }

        Span<byte> expected = stackalloc byte[32];
        var matched = false;
        foreach (var key in secrets.Keys)
        {
            HMACSHA256.HashData(key, body, expected);
            // Every key is tried, so the time taken does not tell which one (if any) matched.
            matched |= CryptographicOperations.FixedTimeEquals(expected, claimed);
        }

        return matched ? SignatureCheck.Valid : SignatureCheck.Mismatch;
    }
}
