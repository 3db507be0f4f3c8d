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
    public static readonly CliCommand Command = new(
        "deploy-local",
        "heaven deploy-local <path> --environment ENV [--ref REF] [--task TASK] [--provider NAME] [--script PATH] [--payload FILE]",
        "try a deploy from a local repository, without GitHub",
        "The same pipeline as a webhook's deploy (checkout, provider, masking, timeout); output and statuses go to the terminal. Exit code 0 on success, 1 on failure, 2 otherwise.",
        RunAsync)
    {
        Arguments = [new CliArgument("<path>", "a git repository on this machine")],
        Options =
        [
            CliOption.Text("--environment", "ENV", "the environment to deploy to (required)", alias: "-e"),
            CliOption.Text("--ref", "REF", "the branch, tag or commit (default: the checked-out branch)"),
            CliOption.Text("--task", "TASK", "the deployment's task (default deploy)"),
            CliOption.Text("--provider", "NAME", "the provider (default shell)"),
            CliOption.Text("--script", "PATH", "the shell provider's script (default script/deploy)"),
            CliOption.Text("--payload", "FILE", "a JSON file to use as the deployment's payload (instead of --provider/--script)"),
        ],
    };

    private static async Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var (output, error) = (terminal.Output, terminal.Error);
        var path = arguments.Positionals[0];
        var environment = arguments.Text("--environment") ?? throw new UsageException("--environment is required.");
        var reference = arguments.Text("--ref");
        var task = arguments.Text("--task") ?? "deploy";
        var provider = arguments.Text("--provider") ?? "shell";
        var script = arguments.Text("--script") ?? "script/deploy";
        var payloadFile = arguments.Text("--payload");
        var settings = arguments.Settings;

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
        var app = await terminal.PrepareAsync([.. settings, "--Checkout:AllowLocalRepositories=true"], mayCreateDataDirectory: true, cancellationToken);
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
