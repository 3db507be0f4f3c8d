using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Packaging;

/// <summary>
/// packaging/install-debian.sh on this machine, as an operator runs it: as root, from a self-contained
/// publish (packaging/publish.sh). Then the installed <c>heaven</c> is started with the installed unit's
/// settings, as systemd would start it (systemd is not PID 1 here): the unit's user, environment,
/// credentials and privilege limits. The test changes the machine (users, /usr/local, /var/lib, /etc);
/// CI runs it on a throwaway one. It publishes first (incremental after the first time); set
/// HEAVEN_TEST_PUBLISHED to a published folder to install that instead.
/// </summary>
[Collection(HeavyHostsCollection.Name)]
public sealed class InstallDebianTests
{
    private const string UnitPath = "/usr/local/lib/systemd/system/heaven.service";
    private const string DropInFolder = "/etc/systemd/system/heaven.service.d";
    private const string CredentialsFolder = "/etc/heaven/credentials";

    // A secret the installed Heaven can only know through the credentials drop-in: the webhook's second secret.
    private const string CredentialName = "Webhooks__SecondarySecret";

    private static readonly string Root = RepositoryRoot();
    private static readonly string Script = Path.Combine(Root, "packaging", "install-debian.sh");

    [Fact]
    public void TheUnitKeepsSecretsOffTheCommandLineAndWaitsForADrain()
    {
        var unit = SystemdUnit.Load(Path.Combine(Root, "packaging", "heaven.service"));

        // Parts of the names of Heaven's secret settings (GITHUB_TOKEN, Webhooks:Secret, Database:Url, ...).
        var secretWords = new[] { "token", "secret", "password", "privatekey", "private_key", "apikey", "api_key", "accesskey", "credentials", "connectionstring", "database_url", "database__url", "webhookurl", "webhook_url", "botur" };
        foreach (var word in unit.ExecStart)
        {
            secretWords.ShouldNotContain(w => word.Contains(w, StringComparison.OrdinalIgnoreCase), $"ExecStart has '{word}': settings that may hold a secret never go on a command line");
        }

        unit.ExecStart.Count.ShouldBe(2, "ExecStart runs 'heaven serve'; settings belong in the environment or heaven.env");

        foreach (var (name, value) in unit.Environment(credentialsDirectory: "%d"))
        {
            if (secretWords.Any(w => name.Contains(w, StringComparison.OrdinalIgnoreCase)))
            {
                name.ShouldEndWith("File", Case.Insensitive, $"Environment={name}=... in the unit holds a secret itself rather than naming a file");
                value.ShouldStartWith("%d/", customMessage: $"{name} should name a credential (LoadCredential=), not a file any user may read");
            }
        }

        unit.Single("User").ShouldBe("heaven");
        unit.Single("Restart").ShouldBe("on-failure");
        unit.All("StateDirectory").SelectMany(v => v.Split(' ')).ShouldContain("heaven");
        unit.Single("KillMode").ShouldBe("mixed", "SIGTERM to Heaven alone, so running deploys can finish while it drains");
        // Deployments:DrainTimeout defaults to 600 s; systemd must not SIGKILL before the drain and the cancel after it are done.
        int.Parse(unit.Single("TimeoutStopSec")!, System.Globalization.CultureInfo.InvariantCulture).ShouldBeGreaterThan(600);
    }

    [InstallFact]
    public async Task TheInstalledHeavenRunsUnderTheUnitsSettingsAndASecondInstallChangesNothing()
    {
        var published = Environment.GetEnvironmentVariable("HEAVEN_TEST_PUBLISHED");
        if (string.IsNullOrEmpty(published))
        {
            var publish = await RunAsync(Path.Combine(Root, "packaging", "publish.sh"), [], TimeSpan.FromMinutes(15));
            publish.ExitCode.ShouldBe(0, publish.Output);
            published = Path.Combine(Root, "artifacts", "publish", RuntimeIdentifier());
        }

        var secondarySecret = Convert.ToHexString(RandomNumberGenerator.GetBytes(20));
        var credential = Path.Combine(CredentialsFolder, CredentialName);
        try
        {
            Directory.CreateDirectory(CredentialsFolder);
            await File.WriteAllTextAsync(credential, secondarySecret + "\n");

            var first = await InstallAsync(published);
            first.ExitCode.ShouldBe(0, first.Output);

            (await Stat("/var/lib/heaven")).ShouldBe("heaven:heaven 700");
            (await Stat("/var/lib/heaven-work")).ShouldBe("heaven:heaven 711");
            (await Stat("/etc/heaven")).ShouldBe("root:root 700");
            (await Stat("/etc/heaven/heaven.env")).ShouldBe("root:root 600");
            (await RunAsync("getent", ["passwd", "heaven-deploy"])).Output.ShouldContain(":/usr/sbin/nologin");
            var dropIn = await File.ReadAllTextAsync(Path.Combine(DropInFolder, "credentials.conf"));
            dropIn.ShouldContain($"LoadCredential={CredentialName}:{credential}");
            dropIn.ShouldContain($"Environment={CredentialName}File=%d/{CredentialName}");
            dropIn.ShouldNotContain(secondarySecret);

            if (File.Exists("/usr/bin/systemd-analyze"))
            {
                var verify = await RunAsync("systemd-analyze", ["verify", UnitPath]);
                verify.ExitCode.ShouldBe(0, verify.Output);
                verify.Output.ShouldNotContain("heaven.service:", customMessage: verify.Output);
            }

            await using (var heaven = await StartAsUnitAsync())
            {
                var health = await heaven.HealthAsync();
                health["status"]!.GetValue<string>().ShouldBe("healthy", health.ToJsonString());
                // The hardening leaves bubblewrap working: deploys are sandboxed under the unit's limits.
                health["details"]!["isolation"]!.GetValue<string>().ShouldContain("in a bubblewrap sandbox");

                // The second secret reached Heaven only through the credential file.
                (await heaven.PingAsync(secondarySecret)).ShouldBe(HttpStatusCode.OK);
                (await heaven.PingAsync("not-" + secondarySecret)).ShouldBe(HttpStatusCode.Unauthorized);
                await heaven.StopAsync();
            }

            File.Exists("/var/lib/heaven/heaven.db").ShouldBeTrue("the installed Heaven keeps its database in /var/lib/heaven");
            var before = await SnapshotAsync();
            var second = await InstallAsync(published);
            second.ExitCode.ShouldBe(0, second.Output);
            second.Output.ShouldNotContain("installed ", customMessage: "a second run reinstalled the same program:\n" + second.Output);
            second.Output.ShouldNotContain("created", customMessage: second.Output);
            (await SnapshotAsync()).ShouldBe(before, "a second run with nothing new changed the installation");

            await using (var again = await StartAsUnitAsync())
            {
                (await again.HealthAsync())["status"]!.GetValue<string>().ShouldBe("healthy");
                await again.StopAsync();
            }

            // What packaging/Dockerfile runs: the same script for an image, which adds its init process
            // and health-check client and leaves systemd alone.
            var container = await RunAsync(Script, ["--container", "--from", published], TimeSpan.FromMinutes(15));
            container.ExitCode.ShouldBe(0, container.Output);
            container.Output.ShouldContain("container: no systemd unit");
            File.Exists("/usr/bin/tini").ShouldBeTrue("the image's init process");
            File.Exists("/usr/bin/curl").ShouldBeTrue("the image's health check");
            (await SnapshotAsync()).ShouldBe(before, "an image's install changed the host installation");
        }
        finally
        {
            // Leave no test secret behind, and no drop-in naming a file that is gone.
            File.Delete(credential);
            await InstallAsync(published);
        }
    }

    private static Task<(int ExitCode, string Output)> InstallAsync(string published) =>
        RunAsync(Script, ["--from", published, "--no-start", "--with", "capistrano,fabric", "--with", "ansible"], TimeSpan.FromMinutes(15));

    /// <summary>
    /// Starts the installed Heaven the way systemd starts the installed unit: its ExecStart as its User=,
    /// with its Environment= and EnvironmentFile= settings, a private copy of its LoadCredential= files
    /// for %d, no new privileges and no capabilities; listening on a free loopback port, as a
    /// <c>systemctl edit</c> drop-in setting ASPNETCORE_URLS would.
    /// </summary>
    private static async Task<RunningUnit> StartAsUnitAsync()
    {
        var dropIns = Directory.Exists(DropInFolder) ? Directory.GetFiles(DropInFolder, "*.conf") : [];
        var unit = SystemdUnit.Load(UnitPath, dropIns);
        var user = await Heaven.Execution.DeployUser.FindAsync(unit.Single("User")!, CancellationToken.None)
            ?? throw new InvalidOperationException("the unit's user does not exist");

        var credentials = Directory.CreateTempSubdirectory("heaven-credentials-").FullName;
        foreach (var (id, path) in unit.Credentials)
        {
            var copy = Path.Combine(credentials, id);
            File.Copy(path, copy);
            File.SetUnixFileMode(copy, UnixFileMode.UserRead);
            Heaven.Execution.Posix.ChangeOwner(copy, user.UserId, user.GroupId, out _).ShouldBeTrue();
        }

        File.SetUnixFileMode(credentials, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        Heaven.Execution.Posix.ChangeOwner(credentials, user.UserId, user.GroupId, out _).ShouldBeTrue();

        var info = new ProcessStartInfo("/usr/bin/setpriv")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = unit.Single("WorkingDirectory") ?? "/",
        };
        string[] limits = unit.Single("NoNewPrivileges") == "yes" ? ["--no-new-privs"] : [];
        if (unit.Service.Any(s => s.Key == "CapabilityBoundingSet") && unit.All("CapabilityBoundingSet").Count == 0)
        {
            limits = [.. limits, "--bounding-set=-all", "--inh-caps=-all"];
        }

        string[] switchUser = [$"--reuid={user.UserId}", $"--regid={user.GroupId}", "--init-groups", .. limits, "--"];
        foreach (var arg in switchUser.Concat(unit.ExecStart))
        {
            info.ArgumentList.Add(arg);
        }

        // systemd's environment for a service: its own few variables, then the unit's.
        info.Environment.Clear();
        info.Environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        info.Environment["HOME"] = "/var/lib/heaven";
        info.Environment["USER"] = info.Environment["LOGNAME"] = user.Name;
        info.Environment["CREDENTIALS_DIRECTORY"] = credentials;
        foreach (var (name, value) in unit.Environment(credentials))
        {
            info.Environment[name] = value;
        }

        // Port 0, and the port it took is read from its start-up report (HeavenProcess.ListeningAddress).
        info.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var running = new RunningUnit(process, credentials);
        process.OutputDataReceived += (_, e) => running.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => running.OnLine(e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await Poll.UntilAsync(
            async () =>
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"the installed heaven exited with {process.ExitCode}:\n{running.Output}");
                }

                return await running.AnswersAsync();
            },
            "the installed heaven to answer /healthz",
            TimeSpan.FromMinutes(3),
            () => Task.FromResult(running.Output));
        return running;
    }

    /// <summary>Owners, modes and contents of what the script installs, for comparing two runs.</summary>
    private static async Task<string> SnapshotAsync()
    {
        string[] stat = ["-c", "%n %U:%G %a %s %Y"];
        var programFiles = Directory.GetFiles("/usr/local/lib/heaven", "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal);
        var files = (await RunAsync("stat", [.. stat, "/usr/local/lib/heaven", .. programFiles, "/etc/heaven/heaven.env", UnitPath, Path.Combine(DropInFolder, "credentials.conf")])).Output;
        var folders = (await RunAsync("stat", ["-c", "%n %U:%G %a", "/var/lib/heaven", "/var/lib/heaven-work", "/etc/heaven", CredentialsFolder])).Output;
        var users = (await RunAsync("getent", ["passwd", "heaven", "heaven-deploy"])).Output;
        var data = string.Join("\n", Directory.GetFileSystemEntries("/var/lib/heaven").Order(StringComparer.Ordinal));
        return string.Join("\n", files, folders, users, File.ReadAllText(Path.Combine(DropInFolder, "credentials.conf")), data, new FileInfo("/usr/local/bin/heaven").LinkTarget);
    }

    private static async Task<string> Stat(string path) => (await RunAsync("stat", ["-c", "%U:%G %a", path])).Output.Trim();

    private static async Task<(int ExitCode, string Output)> RunAsync(string program, string[] args, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout ?? TimeSpan.FromMinutes(1));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    private static string RuntimeIdentifier() =>
        System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "linux-arm64" : "linux-x64";

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Heaven.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Heaven.slnx not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The installed heaven, started as its unit says.</summary>
    private sealed class RunningUnit(Process process, string credentials) : IAsyncDisposable
    {
        private readonly StringBuilder output = new();

        // Its base address is set once Heaven has said where it listens (see OnLine).
        private readonly HttpClient client = new() { Timeout = TimeSpan.FromSeconds(30) };

        public string Output
        {
            get
            {
                lock (output)
                {
                    return output.ToString();
                }
            }
        }

        public void OnLine(string? line)
        {
            if (line is not null)
            {
                lock (output)
                {
                    output.AppendLine(line);
                    if (client.BaseAddress is null && HeavenProcess.ListeningAddress(line) is { } address)
                    {
                        client.BaseAddress = address;
                    }
                }
            }
        }

        public async Task<bool> AnswersAsync()
        {
            if (client.BaseAddress is null)
            {
                return false;
            }

            try
            {
                using var response = await client.GetAsync("/healthz");
                return true;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }

        public async Task<JsonNode> HealthAsync()
        {
            using var response = await client.GetAsync("/healthz");
            var body = await response.Content.ReadAsStringAsync();
            return JsonNode.Parse(body) ?? throw new InvalidOperationException("/healthz answered no JSON: " + body);
        }

        public async Task<HttpStatusCode> PingAsync(string secret)
        {
            var body = Encoding.UTF8.GetBytes(Fixtures.Read("ping.json"));
            using var request = new HttpRequestMessage(HttpMethod.Post, "/events") { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new("application/json");
            request.Headers.Add("X-GitHub-Event", "ping");
            request.Headers.Add("X-GitHub-Delivery", Guid.NewGuid().ToString());
            request.Headers.Add("X-Hub-Signature-256", Webhook.Sign(body, secret));
            using var response = await client.SendAsync(request);
            return response.StatusCode;
        }

        /// <summary>SIGTERM, as systemctl stop sends it, and the wait for Heaven to exit.</summary>
        public async Task StopAsync()
        {
            (await RunAsync("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])).ExitCode.ShouldBe(0);
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        }

        public async ValueTask DisposeAsync()
        {
            client.Dispose();
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
            Directory.Delete(credentials, recursive: true);
        }
    }
}

/// <summary>A test that runs install-debian.sh: skipped, saying why, unless the test runs as root on Debian (as CI does).</summary>
public sealed class InstallFactAttribute : FactAttribute
{
    public InstallFactAttribute()
    {
        if (Heaven.Execution.Posix.EffectiveUserId != 0)
        {
            Skip = "install-debian.sh must run as root (CI runs the suite as root)";
        }
        else if (!File.Exists("/usr/bin/apt-get"))
        {
            Skip = "install-debian.sh is for Debian (no /usr/bin/apt-get here)";
        }
    }
}
