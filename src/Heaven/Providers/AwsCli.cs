using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Execution;
using Heaven.Model;

namespace Heaven.Providers;

/// <summary>How one AWS CLI command ended, with what it printed on stdout (JSON) and its last error line.</summary>
internal sealed record AwsCliResult(ProcessResult Process, string Stdout, string? LastError)
{
    /// <summary>The JSON the command printed, or an empty object when it printed none.</summary>
    public JsonObject Json()
    {
        try
        {
            return JsonNode.Parse(Stdout) as JsonObject ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }
}

/// <summary>
/// Runs the AWS CLI with an argument vector and an environment that holds the credentials: never
/// an argument (arguments are world-readable in /proc), never the user's ~/.aws (its profiles,
/// credentials and caches are neither read nor written), never the EC2 instance's role.
/// </summary>
internal sealed class AwsCli(IProcessRunner runner, string program, string workingDirectory, IReadOnlyDictionary<string, string> environment, IOutputSink log)
{
    /// <summary>The environment of every call: Heaven's allow-list plus the AWS variables.</summary>
    public static Dictionary<string, string> Environment(string accessKeyId, string secretAccessKey, string region)
    {
        var environment = ChildEnvironment.FromCurrentProcess();
        environment["AWS_ACCESS_KEY_ID"] = accessKeyId;
        environment["AWS_SECRET_ACCESS_KEY"] = secretAccessKey;
        environment["AWS_DEFAULT_REGION"] = region;
        environment["AWS_REGION"] = region;
        environment["AWS_CONFIG_FILE"] = "/dev/null";
        environment["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null";
        environment["AWS_EC2_METADATA_DISABLED"] = "true";
        // Version 2 pipes output through a pager and may prompt; a deploy has no terminal.
        environment["AWS_PAGER"] = "";
        environment["AWS_CLI_AUTO_PROMPT"] = "off";
        return environment;
    }

    /// <summary>Runs <c>aws &lt;arguments&gt; --output json</c>, saying the command line in the log first unless <paramref name="quiet"/>.</summary>
    public async Task<AwsCliResult> RunAsync(IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken, bool quiet = false)
    {
        var all = arguments.Append("--output=json").ToList();
        if (!quiet)
        {
            await log.WriteLineAsync(OutputStream.Heaven, "$ aws " + CommandLine.Display(all), cancellationToken);
        }

        var capture = new Capture(log);
        var result = await runner.RunAsync(new ProcessSpec(program, all, workingDirectory, environment, timeout), capture, cancellationToken);
        return new AwsCliResult(result, capture.Stdout, capture.LastError);
    }

    /// <summary>Keeps stdout (the CLI's JSON answer) and passes everything else on to the log.</summary>
    private sealed class Capture(IOutputSink log) : IOutputSink
    {
        /// <summary>Describe calls answer a few kilobytes; more than this is not an answer worth parsing.</summary>
        private const int MaxStdoutChars = 4 * 1024 * 1024;

        private readonly Lock gate = new();
        private readonly StringBuilder stdout = new();
        private string? lastError;

        public string Stdout
        {
            get
            {
                lock (gate)
                {
                    return stdout.ToString();
                }
            }
        }

        public string? LastError
        {
            get
            {
                lock (gate)
                {
                    return lastError;
                }
            }
        }

        public ValueTask WriteLineAsync(OutputStream stream, string line, CancellationToken cancellationToken)
        {
            lock (gate)
            {
                if (stream == OutputStream.Stdout)
                {
                    if (stdout.Length + line.Length < MaxStdoutChars)
                    {
                        stdout.Append(line).Append('\n');
                    }

                    return default;
                }

                if (stream == OutputStream.Stderr && !string.IsNullOrWhiteSpace(line))
                {
                    lastError = line.Trim();
                }
            }

            return log.WriteLineAsync(stream, line, cancellationToken);
        }
    }
}
