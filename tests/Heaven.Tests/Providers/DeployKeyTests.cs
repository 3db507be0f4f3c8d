using System.Diagnostics;
using Heaven.Configuration;
using Heaven.Ssh;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Providers;

/// <summary>DEPLOYMENT_PRIVATE_KEY in every spelling the original accepted, and clear words (never the value) when it is not a key.</summary>
public sealed class DeployKeyTests : IDisposable
{
    private readonly TemporaryDirectory directory = new();

    public void Dispose() => directory.Dispose();

    [Theory]
    [InlineData("ed25519", "OPENSSH PRIVATE KEY", new string[0])]
    [InlineData("rsa", "RSA PRIVATE KEY", new[] { "-b", "2048", "-m", "PEM" })]
    [InlineData("rsa", "PRIVATE KEY", new[] { "-b", "2048", "-m", "PKCS8" })]
    [InlineData("ecdsa", "EC PRIVATE KEY", new[] { "-m", "PEM" })]
    public void EveryFormOfAKey_GivesTheKeyFileSshKeygenWrote(string type, string label, string[] options)
    {
        var file = Generate(type, options);
        var original = File.ReadAllText(file);
        var lines = original.TrimEnd('\n').Split('\n');
        var body = lines[1..^1];

        foreach (var form in new[]
        {
            original,
            string.Join("\\n", lines),                       // the original Heaven's one line
            string.Join("\\n", lines) + "\\n",
            string.Join("\r\n", lines),
            string.Join("\\n", body),                        // without the BEGIN/END lines
            string.Join("", body),                           // the body on one line
            string.Join(" ", lines),                         // pasted through something that turned newlines into spaces
            "\"" + string.Join("\\n", lines) + "\"",         // with the quotes of an env file
        })
        {
            DeployKey.TryParse(form, out var key, out var problem).ShouldBeTrue(problem);
            key!.Label.ShouldBe(label);
            key.Pem.ShouldBe(original);
            key.ToString().ShouldBe($"DeployKey({label})");
        }
    }

    [Theory]
    [InlineData("hello", "it is neither a private key (-----BEGIN ... PRIVATE KEY-----) nor the base64 body of one")]
    [InlineData("/home/heaven/.ssh/id_ed25519", "it looks like a file path; this setting holds the key itself")]
    [InlineData("~/.ssh/deploy.pem", "it looks like a file path")]
    [InlineData("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKu6xpmvOI+tnGWZ+nu0OZopvcxa0H6MxxF4g2AG2vvR heaven", "it is a public key (a line starting with ssh-...)")]
    [InlineData("-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW", "its -----BEGIN ...----- line has no matching -----END ...----- line")]
    [InlineData("-----BEGIN RSA PRIVATE KEY-----\\nabc\\n-----END OPENSSH PRIVATE KEY-----", "its BEGIN and END lines name different kinds of key")]
    [InlineData("-----BEGIN CERTIFICATE-----\\nMIIBszCCAVmgAwIBAgIUQ\\n-----END CERTIFICATE-----", "it is armoured as 'CERTIFICATE', which is not a private key ssh can use")]
    [InlineData("-----BEGIN ENCRYPTED PRIVATE KEY-----\\nMIIBszCCAVmgAwIBAgIUQ\\n-----END ENCRYPTED PRIVATE KEY-----", "it is protected by a passphrase")]
    [InlineData("-----BEGIN RSA PRIVATE KEY-----\\nProc-Type: 4,ENCRYPTED\\nDEK-Info: AES-128-CBC,0011\\n\\nMIIEowIBAAKCAQEA\\n-----END RSA PRIVATE KEY-----", "it is protected by a passphrase")]
    [InlineData("-----BEGIN OPENSSH PRIVATE KEY-----\\nc2VjcmV0LWJ1dC1ub3QtYS1rZXktMDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6\\n-----END OPENSSH PRIVATE KEY-----", "the text between its BEGIN and END lines is not the OPENSSH PRIVATE KEY they announce")]
    [InlineData("c2VjcmV0LWJ1dC1ub3QtYS1rZXktMDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6", "it is base64, but not of a private key")]
    [InlineData("-----BEGIN OPENSSH PRIVATE KEY-----\\n%%%% not base64 at all, just words and more words to be long enough %%%%\\n-----END OPENSSH PRIVATE KEY-----", "the text between its BEGIN and END lines is not base64")]
    public void SomethingElse_IsRefusedSayingWhatItIs_NotWhatItSays(string value, string expected)
    {
        DeployKey.TryParse(value, out var key, out var problem).ShouldBeFalse();

        key.ShouldBeNull();
        problem!.ShouldStartWith(expected);
        foreach (var piece in value.Split(["\\n", " "], StringSplitOptions.RemoveEmptyEntries).Where(p => p.Length >= 12 && !p.StartsWith("-----", StringComparison.Ordinal)))
        {
            problem.ShouldNotContain(piece);
        }
    }

    [Fact]
    public void AKeyWithAPassphrase_IsRefused()
    {
        var file = Generate("ed25519", ["-N", "a passphrase"]);

        DeployKey.TryParse(File.ReadAllText(file), out _, out var problem).ShouldBeFalse();

        problem.ShouldBe("it is protected by a passphrase; Heaven needs a deploy key without one (ssh-keygen -p -N '' -f <file> removes it)");
    }

    [Fact]
    public async Task ABadKey_StopsTheStart_NamingTheSettingButNotTheValue()
    {
        const string notAKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKu6xpmvOI+tnGWZ+nu0OZopvcxa0H6MxxF4g2AG2vvR heaven@example";

        var error = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(
            legacyEnvironment: new Dictionary<string, string?> { ["DEPLOYMENT_PRIVATE_KEY"] = notAKey }));

        error.Message.ShouldContain("Deployments:PrivateKey (or DEPLOYMENT_PRIVATE_KEY) is not a usable private key: it is a public key");
        error.Message.ShouldContain("(Its value is not shown.)");
        error.Message.ShouldNotContain("AAAAC3NzaC1lZDI1NTE5");
    }

    [Fact]
    public async Task AGoodKey_InTheOriginalsFormat_LetsHeavenStart()
    {
        var key = File.ReadAllText(Generate("ed25519", [])).TrimEnd('\n').Replace("\n", "\\n", StringComparison.Ordinal);

        await using var host = await HeavenTestHost.StartAsync(legacyEnvironment: new Dictionary<string, string?> { ["DEPLOYMENT_PRIVATE_KEY"] = key });
    }

    private string Generate(string type, string[] options)
    {
        var file = Path.Combine(directory.Path, Guid.NewGuid().ToString("N"));
        var arguments = new List<string> { "-q", "-t", type, "-f", file, "-C", "test" };
        if (!options.Contains("-N"))
        {
            arguments.AddRange(["-N", ""]);
        }

        arguments.AddRange(options);
        var info = new ProcessStartInfo("ssh-keygen") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        arguments.ForEach(info.ArgumentList.Add);
        using var process = Process.Start(info)!;
        process.WaitForExit();
        process.ExitCode.ShouldBe(0, process.StandardError.ReadToEnd());
        return file;
    }
}
