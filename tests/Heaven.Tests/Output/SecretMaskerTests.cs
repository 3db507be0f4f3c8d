using System.Net;
using System.Text;
using System.Text.Json;
using Heaven.Masking;
using Microsoft.Extensions.Configuration;

namespace Heaven.Tests.Output;

/// <summary>A secret never reaches a log or a gist, in whatever form a deploy tool prints it.</summary>
public sealed class SecretMaskerTests
{
    private const string Token = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";

    /// <summary>An OpenSSH-style key as a deploy key file holds it (real lines).</summary>
    private const string PrivateKey =
        "-----BEGIN OPENSSH PRIVATE KEY-----\n" +
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n" +
        "QyNTUxOQAAACDx3v3Vw1Pp8mYb7qZr2cJk+Uu9S0yq2c4n9m0x8aV6RAAAAJgqYVnmKmFZ\n" +
        "5gAAAAtzc2gtZWQyNTUxOQAAACDx3v3Vw1Pp8mYb7qZr2cJk+Uu9S0yq2c4n9m0x8aV6RA\n" +
        "-----END OPENSSH PRIVATE KEY-----\n";

    [Fact]
    public void PlainSecret_IsMaskedWhereverItAppears()
    {
        var masker = MaskerWith(Token);

        masker.Mask($"remote: token {Token} used, again {Token}.").ShouldBe("remote: token *** used, again ***.");
        masker.Mask(Token).ShouldBe("***");
    }

    [Fact]
    public void Base64Forms_AreMasked_StandardPaddedUnpaddedAndUrlSafe()
    {
        const string secret = "s3cr3t?>value~~x";
        var masker = MaskerWith(secret);
        var standard = Convert.ToBase64String(Encoding.UTF8.GetBytes(secret));
        var urlSafe = standard.TrimEnd('=').Replace('+', '-').Replace('/', '_');
        standard.ShouldContain("=");
        urlSafe.ShouldNotBe(standard.TrimEnd('='));

        masker.Mask($"data: {standard} end").ShouldBe("data: *** end");
        masker.Mask($"data: {standard.TrimEnd('=')}").ShouldBe("data: ***");
        masker.Mask($"jwt.{urlSafe}.sig").ShouldBe("jwt.***.sig");
    }

    [Fact]
    public void TokenInsideABasicAuthHeader_IsMasked()
    {
        // git (GIT_CURL_VERBOSE) and curl -v print this; the token sits at any offset of the encoding.
        var masker = MaskerWith(Token);
        foreach (var user in new[] { "x-access-token", "x", "abc" })
        {
            var header = "Authorization: Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{Token}"));

            var masked = masker.Mask(header);

            masked.ShouldContain("***");
            // What is left of the encoding can no longer be decoded to the token.
            masked.Length.ShouldBeLessThan(header.Length - 40);
        }
    }

    [Fact]
    public void ReversedAndHexForms_AreMasked_HexInEitherCase()
    {
        var masker = MaskerWith(Token);
        var reversed = new string(Token.Reverse().ToArray());
        var hex = Convert.ToHexStringLower(Encoding.UTF8.GetBytes(Token));

        masker.Mask($"rev: {reversed}!").ShouldBe("rev: ***!");
        masker.Mask($"xxd -p: {hex}").ShouldBe("xxd -p: ***");
        masker.Mask($"HEX={hex.ToUpperInvariant()};").ShouldBe("HEX=***;");
        // Inside a longer dump (bytes before and after it) the secret's bytes are still one run of hex.
        masker.Mask($"0a0d{hex}0a").ShouldBe("0a0d***0a");
    }

    [Fact]
    public void AReversedSecretWithCharactersBeyondOneUtf16Unit_IsReversedByCharacter()
    {
        const string secret = "key-\U0001F511-value";
        var masker = MaskerWith(secret);

        masker.Mask("eulav-\U0001F511-yek").ShouldBe("***");
    }

    [Fact]
    public void UrlEncodedForms_AreMasked()
    {
        const string secret = "p@ss/w:rd+1 &x";
        var masker = MaskerWith(secret);

        masker.Mask($"https://u:{Uri.EscapeDataString(secret)}@example.com/").ShouldBe("https://u:***@example.com/");
        masker.Mask($"password={WebUtility.UrlEncode(secret)}&next=1").ShouldBe("password=***&next=1");
    }

    [Fact]
    public void JsonEscapedForms_AreMasked_AsSystemTextJsonWritesThem()
    {
        const string secret = "quote\"back\\slash+<tag>";
        var masker = MaskerWith(secret);
        var strict = JsonSerializer.Serialize(new { password = secret });
        var relaxed = JsonSerializer.Serialize(new { password = secret }, new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        strict.ShouldContain("\\u002B");

        masker.Mask(strict).ShouldBe("{\"password\":\"***\"}");
        masker.Mask(relaxed).ShouldBe("{\"password\":\"***\"}");
    }

    [Fact]
    public void MultiLineKey_EachLineIsMaskedOnItsOwn_TheArmourIsNot()
    {
        var masker = MaskerWith(PrivateKey);
        var lines = PrivateKey.TrimEnd('\n').Split('\n');

        masker.Mask(lines[0]).ShouldBe("-----BEGIN OPENSSH PRIVATE KEY-----");
        foreach (var line in lines[1..^1])
        {
            masker.Mask("  " + line).ShouldBe("  ***");
        }

        masker.Mask(lines[^1]).ShouldBe("-----END OPENSSH PRIVATE KEY-----");
    }

    [Fact]
    public void KeyInTheOriginalHeavensLiteralBackslashNForm_IsMaskedInBothForms()
    {
        // DEPLOYMENT_PRIVATE_KEY holds the key on one line with literal "\n" separators.
        var literal = PrivateKey.Replace("\n", "\\n");
        var masker = MaskerWith(literal);

        masker.Mask($"export KEY=\"{literal}\"").ShouldBe("export KEY=\"***\"");
        foreach (var line in PrivateKey.TrimEnd('\n').Split('\n')[1..^1])
        {
            masker.Mask(line).ShouldBe("***");
        }

        // A key whose real lines were configured is masked when printed in the one-line form too
        // (its trailing newline is no secret).
        MaskerWith(PrivateKey).Mask($"KEY={literal}").ShouldBe("KEY=***\\n");
    }

    [Fact]
    public void OverlappingSecrets_AreMaskedLongestFirst_LeavingNoFragment()
    {
        var masker = MaskerWith("abcdef", "abcdefghij", "ghijklmn");

        masker.Mask("xx abcdefghij yy").ShouldBe("xx *** yy");
        masker.Mask("xx abcdefghijklmn yy").ShouldBe("xx *** yy");
        masker.Mask("abcdef abcdef").ShouldBe("*** ***");
    }

    [Fact]
    public void OverlapOfTwoDifferentSecrets_IsMaskedAsOneRange()
    {
        var masker = MaskerWith("abc123", "123xyz");

        masker.Mask("-abc123xyz-").ShouldBe("-***-");
    }

    [Theory]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("yes")]
    [InlineData("  ab  ")]
    public void ShortValues_AreIgnored_BecauseMaskingThemWouldDestroyTheLog(string secret)
    {
        var masker = MaskerWith(secret);

        masker.Count.ShouldBe(0);
        masker.Mask("a yes ab line").ShouldBe("a yes ab line");
    }

    [Fact]
    public void ASecretThatCannotBeEscaped_IsStillMaskedAsItIs()
    {
        var masker = MaskerWith("half\uD800of-a-pair");

        masker.Mask("x half\uD800of-a-pair y").ShouldBe("x *** y");
    }

    [Fact]
    public void LineWithoutSecret_IsReturnedAsTheSameInstance()
    {
        var masker = MaskerWith(Token, PrivateKey, "another-secret-value");
        var line = "Deploying 1a2b3c4d to production: bundle exec cap production deploy " + new string('x', 500);

        masker.Mask(line).ShouldBeSameAs(line);
        new SecretMasker().Mask(line).ShouldBeSameAs(line);
    }

    [Fact]
    public void AScope_SeesTheServerSecrets_AndKeepsItsOwnToItself()
    {
        var server = MaskerWith(Token);
        var deployment = server.CreateScope();
        deployment.Add("BUNDLER-credential-1234");

        deployment.Mask($"{Token} BUNDLER-credential-1234").ShouldBe("*** ***");
        server.Mask("BUNDLER-credential-1234").ShouldBe("BUNDLER-credential-1234");
        server.CreateScope().Mask("BUNDLER-credential-1234").ShouldBe("BUNDLER-credential-1234");
    }

    [Fact]
    public void AddingWhileOtherThreadsMask_IsSafe()
    {
        var masker = MaskerWith(Token);
        var secrets = Enumerable.Range(0, 200).Select(i => $"secret-number-{i:D4}").ToArray();

        Parallel.Invoke(
            () =>
            {
                foreach (var secret in secrets)
                {
                    masker.Add(secret);
                }
            },
            () =>
            {
                for (var i = 0; i < 2000; i++)
                {
                    masker.Mask($"line {i} {Token}").ShouldBe($"line {i} ***");
                }
            });

        masker.Mask(string.Join(' ', secrets)).ShouldBe(string.Join(' ', secrets.Select(_ => "***")));
    }

    [Fact]
    public void ServerMasker_HoldsTheConfiguredSecrets_ByKeyAndByName()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["GitHub:Token"] = Token,
            ["Webhooks:Secret"] = "webhook-secret-value",
            ["Deployments:PrivateKey"] = PrivateKey.Replace("\n", "\\n"),
            ["Providers:Heroku:ApiKey"] = "heroku-api-key-value",
            ["Providers:ElasticBeanstalk:SecretAccessKey"] = "aws/secret+access+key",
            ["Notifications:Campfire:Token"] = "campfire-token-value",
            ["Notifications:Slack:WebhookUrl"] = "https://hooks.slack.com/services/T0/B0/slackhooksecret",
            ["Custom:DeployPassword"] = "custom-password-value",
            ["AWS_SECRET_ACCESS_KEY"] = "env-style-secret-value",
            ["Database:Url"] = "postgres://heaven:db%2Fpass-word@db.example.com:5432/heaven",
            ["GitHub:PrivateKeyPath"] = "/etc/heaven/app-key.pem",
            ["Secrets:Enabled"] = "true",
            ["Tokens:LifetimeSeconds"] = "3600",
            ["Deployments:TaskPrefix"] = "deploy",
        }).Build();

        var masker = SecretMasker.ForServer(configuration, ["generated-webhook-secret-0123"]);

        foreach (var secret in new[]
        {
            Token, "webhook-secret-value", "heroku-api-key-value", "aws/secret+access+key", "campfire-token-value",
            "https://hooks.slack.com/services/T0/B0/slackhooksecret", "custom-password-value", "env-style-secret-value",
            "db/pass-word", "generated-webhook-secret-0123", PrivateKey.Split('\n')[2],
        })
        {
            masker.Mask($"[{secret}]").ShouldBe("[***]", secret);
        }

        masker.Mask("/etc/heaven/app-key.pem true 3600 deploy").ShouldBe("/etc/heaven/app-key.pem true 3600 deploy");
    }

    [Fact]
    public void ServerMasker_FindsThePasswordInAConnectionString()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Database:ConnectionString"] = "Host=db;Database=heaven;Username=heaven;Password=conn-string-pass",
        }).Build();

        SecretMasker.ForServer(configuration).Mask("auth failed for conn-string-pass").ShouldBe("auth failed for ***");
    }

    private static SecretMasker MaskerWith(params string[] secrets)
    {
        var masker = new SecretMasker();
        foreach (var secret in secrets)
        {
            masker.Add(secret);
        }

        return masker;
    }
}
