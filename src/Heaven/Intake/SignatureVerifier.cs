using System.Buffers;
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

    /// <summary>Checks a signature made with one of the server-wide secrets.</summary>
    public SignatureCheck Check(string? header, ReadOnlySpan<byte> body)
    {
        Span<byte> claimed = stackalloc byte[32];
        var shape = Parse(header, claimed);
        if (shape != SignatureCheck.Valid)
        {
            return shape;
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

    /// <summary>
    /// Checks a signature over a body in segments, made with the secret of the repository the body
    /// names (<paramref name="claimedRepository"/>, read before anything is trusted, only to choose the
    /// secret): its own secret when it has one, else the server-wide ones.
    /// </summary>
    public (SignatureCheck Result, WebhookSecretChoice Secrets) Check(string? header, in ReadOnlySequence<byte> body, string? claimedRepository)
    {
        var choice = secrets.For(claimedRepository);
        return (Check(header, body, choice.Keys), choice);
    }

    private static SignatureCheck Check(string? header, in ReadOnlySequence<byte> body, IReadOnlyList<byte[]> keys)
    {
        Span<byte> claimed = stackalloc byte[32];
        var shape = Parse(header, claimed);
        if (shape != SignatureCheck.Valid)
        {
            return shape;
        }

        Span<byte> expected = stackalloc byte[32];
        var matched = false;
        foreach (var key in keys)
        {
            using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
            foreach (var segment in body)
            {
                hmac.AppendData(segment.Span);
            }

            hmac.GetHashAndReset(expected);
            // Every key is tried, so the time taken does not tell which one (if any) matched.
            matched |= CryptographicOperations.FixedTimeEquals(expected, claimed);
        }

        return matched ? SignatureCheck.Valid : SignatureCheck.Mismatch;
    }

    private static SignatureCheck Parse(string? header, Span<byte> claimed)
    {
        if (string.IsNullOrEmpty(header))
        {
            return SignatureCheck.Missing;
        }

        if (!header.StartsWith(Prefix, StringComparison.Ordinal) || header.Length != Prefix.Length + 64)
        {
            return SignatureCheck.Malformed;
        }

        if (Convert.FromHexString(header.AsSpan(Prefix.Length), claimed, out _, out var written) != OperationStatus.Done || written != 32)
        {
            return SignatureCheck.Malformed;
        }

        return SignatureCheck.Valid;
    }
}
