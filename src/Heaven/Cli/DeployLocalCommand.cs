using System.Diagnostics;
using System.Text.Json.Nodes;
using Heaven.Configuration;
using Heaven.Deployments;
using Heaven.GitHub;
using Heaven.Model;
using Heaven.Output;
using Microsoft.Extensions.Options;

namespace Heaven.Cli;

/// <summary>
/// <c>heaven deploy-local &lt;path&gt; --environment ENV</c>: the same pipeline as a webhook-triggered
/// deploy (checkout of the commit, provider, masking, timeout), against a local repository and without
/// GitHub. Output streams to the terminal; each status is printed instead of posted.
/// </summary>
internal static class DeployLocalCommand
{
    public const string Usage = "heaven deploy-local <path> --environment ENV [--ref REF] [--task TASK] [--provider shell] [--script script/deploy] [--payload FILE]";

    public static async Task<int> RunAsync(string[] args, Terminal terminal, CancellationToken cancellationToken)
    {
        var (output, error) = (terminal.Output, terminal.Error);
        string? path = null, environment = null, reference = null, task = "deploy", provider = "shell", script = "script/deploy", payloadFile = null;
        var settings = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                switch (args[i])
                {
                    case "--environment" or "-e": environment = Next(); break;
                    case "--ref": reference = Next(); break;
                    case "--task": task = Next(); break;
                    case "--provider": provider = Next(); break;
                    case "--script": script = Next(); break;
                    case "--payload": payloadFile = Next(); break;
                    case var a when !a.StartsWith('-') && path is null: path = a; break;
                    default: settings.Add(args[i]); break;
                }
            }
            catch (ArgumentException e)
            {
                error.WriteLine($"heaven deploy-local: {e.Message}\nUsage: {Usage}");
                return 2;
            }
        }

        if (path is null || environment is null)
        {
            error.WriteLine($"Usage: {Usage}");
            return 2;
        }

        var repositoryPath = Path.GetFullPath(path);
        reference ??= Git(repositoryPath, "symbolic-ref", "--quiet", "--short", "HEAD") ?? "HEAD";
        var sha = Git(repositoryPath, "rev-parse", "--verify", "--quiet", "--end-of-options", reference + "^{commit}");
        if (sha is null)
        {
            error.WriteLine($"heaven deploy-local: '{reference}' is not a commit of the git repository at {repositoryPath}.");
            return 2;
        }

        JsonObject payload;
        if (payloadFile is not null)
        {
            payload = JsonNode.Parse(await File.ReadAllTextAsync(payloadFile, cancellationToken)) as JsonObject
                ?? throw new StartupException($"{payloadFile} must hold a JSON object (the deployment's payload).");
        }
        else
        {
            payload = new JsonObject { ["config"] = new JsonObject { ["provider"] = provider, ["deploy_script"] = script } };
        }

        // The repository is a path on this machine, named by whoever runs the command: allowed here
        // (and last, so no setting turns it off), where a server only fetches from GitHub.
        var app = await terminal.PrepareAsync([.. settings, "--Checkout:AllowLocalRepositories=true"], cancellationToken);
        var services = app.Services;
        var time = services.GetRequiredService<TimeProvider>();
        var name = new string(Path.GetFileName(repositoryPath.TrimEnd('/')).Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-').ToArray()).Trim('.');
        var now = time.GetUtcNow().UtcDateTime;
        var deployment = new DeploymentRecord
        {
            Id = 0,
            Repository = $"local/{(name.Length == 0 ? "repository" : name)}",
            CloneUrl = new Uri(repositoryPath).AbsoluteUri,
            Ref = reference,
            Sha = sha,
            Task = task,
            Environment = environment,
            PayloadJson = payload.ToJsonString(),
            CreatorLogin = Environment.UserName,
            DeliveryId = "local",
            ReceivedAt = now,
            StateChangedAt = now,
            App = name,
            ExclusivityKey = "",
            Provider = DeploymentPayload.Parse(payload.ToJsonString()).Provider,
        };

        var masker = services.GetRequiredService<DeploymentOutputs>().CreateMasker();
        var sink = new TerminalSink(masker, output, error);
        var environmentUrl = DeployPipeline.EnvironmentUrl(deployment);
        WriteStatus(output, GitHubDeploymentState.InProgress, StatusTexts.Deploying(deployment), environmentUrl);
        var started = time.GetTimestamp();
        var timeout = TimeSpan.FromSeconds(services.GetRequiredService<IOptions<DeploymentOptions>>().Value.Timeout);
        var outcome = await services.GetRequiredService<DeployPipeline>().RunAsync(deployment, sink, masker, null, timeout, cancellationToken);
        var (state, gitHubState, description) = DeployPipeline.Conclude(deployment, outcome, time.GetElapsedTime(started));
        WriteStatus(output, gitHubState, description, environmentUrl);
        return state switch
        {
            DeploymentState.Succeeded => 0,
            DeploymentState.Failed => 1,
            _ => 2,
        };
    }

    private static void WriteStatus(TextWriter output, GitHubDeploymentState state, string description, string? environmentUrl) =>
        output.WriteLine($"==> status {OctokitGitHub.StateName(state)}: {description}{(environmentUrl is null ? "" : $" ({environmentUrl})")}");

    /// <summary>Runs git for a one-line answer (null when it fails). Arguments only, never a shell line.</summary>
    private static string? Git(string repository, params string[] args)
    {
        var info = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        info.ArgumentList.Add("-C");
        info.ArgumentList.Add(repository);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        try
        {
            using var process = Process.Start(info)!;
            process.StandardInput.Close();
            var text = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return process.ExitCode == 0 && text.Length > 0 ? text : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>The deploy's output on the terminal, masked like the stored log.</summary>
    private sealed class TerminalSink(ISecretMasker masker, TextWriter output, TextWriter error) : IOutputSink
    {
        private readonly Lock gate = new();

        public ValueTask WriteLineAsync(OutputStream stream, string line, CancellationToken cancellationToken)
        {
            var masked = masker.Mask(line);
            lock (gate)
            {
                switch (stream)
                {
                    case OutputStream.Stderr: error.WriteLine(masked); break;
                    case OutputStream.Heaven: output.WriteLine($"--> {masked}"); break;
                    default: output.WriteLine(masked); break;
                }
            }

            return ValueTask.CompletedTask;
        }
    }
}
