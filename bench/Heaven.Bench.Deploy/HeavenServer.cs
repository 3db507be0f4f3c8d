using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Heaven.Bench.Deploy;

/// <summary>
/// The real <c>heaven</c> executable (production's own entry point, <c>heaven serve</c>, with its own
/// runtimeconfig: server GC) in a child process on 127.0.0.1, with a temporary data directory and a
/// SQLite database. Settings are given the way an operator gives them: environment variables.
/// </summary>
internal sealed partial class HeavenServer : IAsyncDisposable
{
    public const string Secret = "bench-webhook-secret-0123456789abcdef";
    public const string Token = "ghp_benchToken0123456789abcdefABCDEF0123";

    private readonly Process process;
    private readonly List<string> output = [];
    private readonly TaskCompletionSource<Uri> listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly byte[] secret = Encoding.UTF8.GetBytes(Secret);

    private readonly ProcessStartInfo startInfo;

    private HeavenServer(Process process, string dataDirectory)
    {
        this.process = process;
        startInfo = process.StartInfo;
        DataDirectory = dataDirectory;
    }

    public Uri BaseAddress { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public int ProcessId => process.Id;

    public string DataDirectory { get; }

    public string DatabasePath => Path.Combine(DataDirectory, "heaven.db");

    /// <summary>Lines the server printed (warnings and errors only, with the bench's log level).</summary>
    public IReadOnlyList<string> Output
    {
        get
        {
            lock (output)
            {
                return output.ToList();
            }
        }
    }

    public static async Task<HeavenServer> StartAsync(string workDirectory, string gitHubUrl, IReadOnlyDictionary<string, string>? settings = null, bool verbose = false)
    {
        var dataDirectory = Path.Combine(workDirectory, "data-" + Guid.NewGuid().ToString("N")[..8]);
        var heaven = Path.Combine(AppContext.BaseDirectory, "heaven.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workDirectory,
        };
        info.ArgumentList.Add(heaven);
        info.ArgumentList.Add("serve");
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add("http://127.0.0.1:0");

        // Nothing of the developer's own Heaven may leak in (a real token, another database).
        foreach (var name in info.Environment.Keys.ToList())
        {
            if (name.StartsWith("GITHUB_", StringComparison.Ordinal) || name.StartsWith("HEAVEN_", StringComparison.Ordinal)
                || name is "DATABASE_URL" or "DEPLOYMENT_TIMEOUT" or "ASPNETCORE_URLS" or "OCTOKIT_API_ENDPOINT" or "OCTOKIT_WEB_ENDPOINT"
                || name.Contains("__", StringComparison.Ordinal))
            {
                info.Environment.Remove(name);
            }
        }

        var all = new Dictionary<string, string>
        {
            ["DataDirectory"] = dataDirectory,
            ["Webhooks:Secret"] = Secret,
            ["GitHub:Token"] = Token,
            ["GitHub:ApiUrl"] = gitHubUrl,
            ["GitHub:WebUrl"] = gitHubUrl,
            // The engine's own cost, comparable with the recorded results; isolation is measured on its own.
            ["Deployments:Isolation"] = "none",
            // The benchmark's repositories are local (BenchRepository).
            ["Checkout:AllowLocalRepositories"] = "true",
            ["Logging:LogLevel:Default"] = verbose ? "Information" : "Warning",
            ["Logging:Console:TimestampFormat"] = "HH:mm:ss.fff ",
            ["Logging:Console:FormatterOptions:TimestampFormat"] = "HH:mm:ss.fff ",
            ["Logging:Console:FormatterName"] = "simple",
            ["Logging:Console:FormatterOptions:SingleLine"] = "true",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }

        foreach (var (key, value) in all)
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var server = new HeavenServer(process, dataDirectory);
        process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        process.Exited += (_, _) => server.listening.TrySetException(new InvalidOperationException("heaven exited before it was listening:\n" + string.Join('\n', server.Output)));
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        server.BaseAddress = await server.listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
        server.Client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = server.BaseAddress,
            Timeout = TimeSpan.FromSeconds(60),
        };
        return server;
    }

    /// <summary>
    /// Makes an API token with <c>heaven tokens create NAME --scope SCOPE</c> against this server's data
    /// directory and settings, as an operator would; the token is the command's last line of output.
    /// </summary>
    public async Task<string> CreateTokenAsync(string name, string scope, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = startInfo.WorkingDirectory,
        };
        info.ArgumentList.Add(startInfo.ArgumentList[0]);
        foreach (var argument in new[] { "tokens", "create", name, "--scope", scope })
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment.Clear();
        foreach (var (key, value) in startInfo.Environment)
        {
            info.Environment[key] = value;
        }

        using var tokens = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start.");
        tokens.StandardInput.Close();
        var standardOutput = tokens.StandardOutput.ReadToEndAsync(cancellationToken);
        var standardError = tokens.StandardError.ReadToEndAsync(cancellationToken);
        await tokens.WaitForExitAsync(cancellationToken);
        var printed = await standardOutput;
        if (tokens.ExitCode != 0)
        {
            throw new InvalidOperationException($"'heaven tokens create {name} --scope {scope}' exited with {tokens.ExitCode}: {await standardError}");
        }

        return printed.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
    }

    /// <summary>Sends a signed <c>deployment</c> webhook the way GitHub does; returns when the 202 has arrived.</summary>
    public async Task<HttpResponseMessage> SendDeploymentAsync(string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/events") { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.UserAgent.ParseAdd("GitHub-Hookshot/bench");
        request.Headers.Add("X-GitHub-Event", "deployment");
        request.Headers.Add("X-GitHub-Delivery", Guid.NewGuid().ToString());
        request.Headers.Add("X-Hub-Signature-256", "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(secret, bytes)));
        var response = await Client.SendAsync(request);
        if ((int)response.StatusCode != 202)
        {
            throw new InvalidOperationException($"heaven answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        return response;
    }

    /// <summary>The server's resident memory now and its peak since start (or since <see cref="ResetPeak"/>), in bytes.</summary>
    public (long Rss, long Peak) Memory()
    {
        long rss = 0, peak = 0;
        foreach (var line in File.ReadLines($"/proc/{process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = Kilobytes(line) * 1024;
            }
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                peak = Kilobytes(line) * 1024;
            }
        }

        return (rss, peak);
    }

    /// <summary>CPU time the server has used so far (user + system, from /proc/pid/stat).</summary>
    public TimeSpan CpuTime()
    {
        var stat = File.ReadAllText($"/proc/{process.Id}/stat");
        // Fields after the command name (which may hold spaces) start at ')': utime and stime are the 14th and 15th fields.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / 100.0);
    }

    /// <summary>Resets VmHWM to the current RSS (writing 5 to /proc/pid/clear_refs); false when the kernel refuses.</summary>
    public bool ResetPeak()
    {
        try
        {
            File.WriteAllText($"/proc/{process.Id}/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        if (!process.HasExited)
        {
            // SIGTERM: the host stops as under systemd; a kill if it does not within the limit.
            Posix(process.Id);
            if (!process.WaitForExit(TimeSpan.FromSeconds(20)))
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
        }

        process.Dispose();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static void Posix(int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", pid.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
    }

    private static long Kilobytes(string line) =>
        long.Parse(line.Split(':', 2)[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture);

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.Add(line);
        }

        if (ListeningLine().Match(line) is { Success: true } match)
        {
            listening.TrySetResult(new Uri(match.Groups[1].Value));
        }
    }

    [GeneratedRegex(@"^\s*Listening on\s+(http://\S+)")]
    private static partial Regex ListeningLine();
}
