using System.Buffers.Binary;
using System.Formats.Asn1;
using System.Text;
using System.Text.RegularExpressions;

namespace Heaven.Ssh;

/// <summary>
/// The deploy key (<c>Deployments:PrivateKey</c> / <c>DEPLOYMENT_PRIVATE_KEY</c>) in the form ssh-add
/// reads: PEM or OpenSSH armour, real newlines. Accepts the original Heaven's one line with literal
/// <c>\n</c> separators, real newlines, and the base64 body alone (armour lines left out, as the
/// original allowed); the kind of key is then read from the body itself.
/// </summary>
/// <remarks>
/// Nothing here ever puts the key, or any part of it, in a message: a problem says what is wrong
/// with the value, never what the value is. <see cref="ToString"/> names the kind of key only.
/// </remarks>
public sealed partial class DeployKey
{
    private const string OpenSsh = "OPENSSH PRIVATE KEY";
    private static readonly byte[] OpenSshMagic = Encoding.ASCII.GetBytes("openssh-key-v1\0");
    private const string Passphrase = "it is protected by a passphrase; Heaven needs a deploy key without one (ssh-keygen -p -N '' -f <file> removes it)";
    private static readonly string[] Labels = [OpenSsh, "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY", "PRIVATE KEY"];

    private DeployKey(string label, string body)
    {
        Label = label;
        Body = body;
        // OpenSSH writes its format 70 characters a line; PEM readers expect 64.
        var width = label == OpenSsh ? 70 : 64;
        var text = new StringBuilder().Append("-----BEGIN ").Append(label).Append("-----\n");
        for (var i = 0; i < body.Length; i += width)
        {
            text.Append(body, i, Math.Min(width, body.Length - i)).Append('\n');
        }

        Pem = text.Append("-----END ").Append(label).Append("-----\n").ToString();
    }

    /// <summary>What kind of key: <c>OPENSSH PRIVATE KEY</c>, <c>RSA PRIVATE KEY</c>, ...</summary>
    public string Label { get; }

    /// <summary>The key file's contents, as ssh-keygen and ssh-add read them.</summary>
    public string Pem { get; }

    /// <summary>The base64 body on one line (no armour, no newlines): a form a tool might print.</summary>
    public string Body { get; }

    public override string ToString() => $"DeployKey({Label})";

    /// <summary>Reads a configured key; <paramref name="problem"/> says why it is not one, without quoting it.</summary>
    public static bool TryParse(string? configured, out DeployKey? key, out string? problem)
    {
        key = null;
        problem = Read(configured, out var label, out var body);
        if (problem is null)
        {
            key = new DeployKey(label!, body!);
        }

        return problem is null;
    }

    private static string? Read(string? configured, out string? label, out string? body)
    {
        label = body = null;
        var text = (configured ?? "").Trim();
        if (text.Length >= 2 && text[0] == '"' && text[^1] == '"')
        {
            // A value copied from an env file with its quotes.
            text = text[1..^1].Trim();
        }

        if (text.Length == 0)
        {
            return "it is empty";
        }

        text = text.Replace("\\r\\n", "\n", StringComparison.Ordinal).Replace("\\n", "\n", StringComparison.Ordinal)
            .Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');

        if (PublicKey().IsMatch(text))
        {
            return "it is a public key (a line starting with ssh-...); this setting needs the private key that belongs to it";
        }

        if (text[0] is '/' or '~' || (text.Length < 200 && text.EndsWith(".pem", StringComparison.OrdinalIgnoreCase)))
        {
            return "it looks like a file path; this setting holds the key itself (for example DEPLOYMENT_PRIVATE_KEY=\"$(cat deploy_key)\")";
        }

        string encoded;
        string? armour = null;
        if (text.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            var match = Armoured().Match(text);
            if (!match.Success)
            {
                return "its -----BEGIN ...----- line has no matching -----END ...----- line";
            }

            armour = match.Groups["label"].Value;
            if (match.Groups["end"].Value != armour)
            {
                return "its BEGIN and END lines name different kinds of key";
            }

            if (armour is "ENCRYPTED PRIVATE KEY")
            {
                return Passphrase;
            }

            if (!Labels.Contains(armour))
            {
                return $"it is armoured as '{armour}', which is not a private key ssh can use";
            }

            encoded = match.Groups["body"].Value;
            if (encoded.Contains(':', StringComparison.Ordinal))
            {
                // PEM headers: "Proc-Type: 4,ENCRYPTED" and "DEK-Info" only come with a passphrase.
                return encoded.Contains("ENCRYPTED", StringComparison.Ordinal) ? Passphrase : "it has PEM headers, which an unencrypted key does not have";
            }
        }
        else
        {
            encoded = text;
        }

        encoded = Whitespace().Replace(encoded, "");
        if (encoded.Length < 64 || !Base64().IsMatch(encoded))
        {
            return armour is null
                ? "it is neither a private key (-----BEGIN ... PRIVATE KEY-----) nor the base64 body of one"
                : "the text between its BEGIN and END lines is not base64";
        }

        // The body alone may have lost its padding on the way into an environment variable.
        encoded = encoded.PadRight(encoded.Length + ((4 - (encoded.Length % 4)) % 4), '=');
        var bytes = new byte[encoded.Length * 3 / 4];
        if (!Convert.TryFromBase64String(encoded, bytes, out var length))
        {
            return "the text between its BEGIN and END lines is not base64";
        }

        var detected = Detect(bytes.AsSpan(0, length), out var encrypted);
        Array.Clear(bytes);
        if (encrypted)
        {
            return Passphrase;
        }

        if (detected is null)
        {
            return armour is null
                ? "it is base64, but not of a private key (an OpenSSH, PKCS#1, PKCS#8 or EC key)"
                : $"the text between its BEGIN and END lines is not the {armour} they announce";
        }

        // The armour wins when both are known: PKCS#8 ("PRIVATE KEY") and PKCS#1 bodies are both DER.
        if (armour == OpenSsh && detected != OpenSsh)
        {
            return $"the text between its BEGIN and END lines is not the {armour} they announce";
        }

        label = armour ?? detected;
        body = encoded;
        return null;
    }

    /// <summary>The kind of key the bytes hold, from their structure only (nothing is decrypted or imported).</summary>
    private static string? Detect(ReadOnlySpan<byte> bytes, out bool encrypted)
    {
        encrypted = false;
        if (bytes.StartsWith(OpenSshMagic))
        {
            // The cipher name follows the magic; "none" means no passphrase.
            var rest = bytes[OpenSshMagic.Length..];
            if (rest.Length < 4)
            {
                return null;
            }

            var nameLength = BinaryPrimitives.ReadUInt32BigEndian(rest);
            if (nameLength > 64 || rest.Length < 4 + nameLength)
            {
                return null;
            }

            encrypted = !rest.Slice(4, (int)nameLength).SequenceEqual("none"u8);
            return OpenSsh;
        }

        try
        {
            var reader = new AsnReader(bytes.ToArray(), AsnEncodingRules.BER);
            var sequence = reader.ReadSequence();
            if (reader.HasData)
            {
                return null;
            }

            if (sequence.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
            {
                // EncryptedPrivateKeyInfo: { algorithm, encrypted data }.
                encrypted = true;
                return null;
            }

            var version = sequence.ReadInteger();
            var next = sequence.PeekTag();
            if (next.HasSameClassAndValue(Asn1Tag.Sequence))
            {
                return "PRIVATE KEY";
            }

            if (version == 1 && next.HasSameClassAndValue(Asn1Tag.PrimitiveOctetString))
            {
                return "EC PRIVATE KEY";
            }

            var integers = 1;
            while (sequence.HasData && sequence.PeekTag().HasSameClassAndValue(Asn1Tag.Integer))
            {
                sequence.ReadIntegerBytes();
                integers++;
            }

            return sequence.HasData ? null : integers switch
            {
                9 => "RSA PRIVATE KEY",
                6 => "DSA PRIVATE KEY",
                _ => null,
            };
        }
        catch (AsnContentException)
        {
            return null;
        }
    }

    [GeneratedRegex(@"^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-\S+|sk-\S+)\s+AAAA", RegexOptions.CultureInvariant)]
    private static partial Regex PublicKey();

    [GeneratedRegex(@"-----BEGIN (?<label>[A-Z0-9 ]+)-----(?<body>.*?)-----END (?<end>[A-Z0-9 ]+)-----", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex Armoured();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex("^[A-Za-z0-9+/]+={0,2}$")]
    private static partial Regex Base64();
}
