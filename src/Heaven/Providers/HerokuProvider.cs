using System.Text.Json;
using System.Text.RegularExpressions;
using Heaven.GitHub;
using Heaven.Model;
using Microsoft.Extensions.Options;

namespace Heaven.Providers;

/// <summary>
/// <c>heroku</c>: the original Heaven's approach. GitHub makes a tarball of the exact commit, Heroku
/// builds it (Platform API builds, no git push), and the build's output streams into the deployment's
/// log while it runs. The app is <c>payload.config.heroku_&lt;environment&gt;_name</c>, else
/// <c>payload.config.heroku_name</c>.
/// </summary>
/// <remarks>
/// Heroku builds cannot be stopped through the API: on cancel or timeout Heaven stops waiting and says
/// so in the log; the build may still finish and release on Heroku.
/// </remarks>
internal sealed partial class HerokuProvider(
    IGitHub gitHub,
    IHttpClientFactory httpClients,
    IOptions<HerokuOptions> options,
    TargetPolicy policy,
    TimeProvider time,
    ILogger<HerokuProvider> logger) : IDeployProvider
{
    /// <summary>After the build ends, how long its output stream may still take to deliver the rest.</summary>
    private static readonly TimeSpan StreamDrain = TimeSpan.FromSeconds(15);

    /// <summary>Lengths and characters of Heroku app names (and ids); anything else is refused before a request is made.</summary>
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9-]{0,99}$")]
    private static partial Regex AppNamePattern();

    public string Name => "heroku";

    public async Task<ProviderOutcome> DeployAsync(DeployContext context, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var (app, problem) = AppName(context);
        if (app is null)
        {
            return ProviderOutcome.Error(problem!);
        }

        // Before anything is asked of GitHub or Heroku: the server's key may only build the repository's own apps.
        if (policy.HerokuApp(context.Deployment.Repository, app) is { } refusal)
        {
            return await refusal.RefuseAsync(context, cancellationToken);
        }

        if (string.IsNullOrWhiteSpace(settings.ApiKey))
        {
            return ProviderOutcome.Error($"{Configuration.LegacyEnvironmentVariables.Describe("Providers:Heroku:ApiKey")} is not set; the heroku provider needs a Heroku API key");
        }

        context.Masker.Add(settings.ApiKey);
        var deployment = context.Deployment;
        var sha = StatusTexts.Short(deployment.Sha);
        var output = context.Output;
        using var deadline = new CancellationTokenSource(context.Timeout, time);
        using var run = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        using var stopFollowing = CancellationTokenSource.CreateLinkedTokenSource(run.Token);
        var api = new HerokuApi(httpClients.CreateClient(HerokuApi.HttpClientName), settings, settings.ApiKey, time, (line, token) => output.WriteLineAsync(OutputStream.Heaven, line, token));
        var follower = new Follower();
        HerokuBuild? build = null;
        Task? following = null;
        try
        {
            await output.WriteLineAsync(OutputStream.Heaven, $"Asking GitHub for the tarball of {deployment.Repository} at {sha}", run.Token);
            var tarball = await TarballLinkAsync(context, settings, run.Token);

            await output.WriteLineAsync(OutputStream.Heaven, $"Creating a Heroku build of {sha} for app {app}", run.Token);
            build = await api.CreateBuildAsync(app, tarball, deployment.Sha, run.Token);
            Log.BuildCreated(logger, deployment.Id, build.Id, app);
            var buildDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (build.OutputStreamUrl is { } stream)
            {
                // The stream's URL is its only protection: it stays out of the log like a credential.
                context.Masker.Add(stream.AbsoluteUri);
                await output.WriteLineAsync(OutputStream.Heaven, $"Heroku build {build.Id} started; its output follows", run.Token);
                following = FollowAsync(api, stream, output, buildDone.Task, settings.PollInterval, follower, stopFollowing.Token);
            }
            else
            {
                await output.WriteLineAsync(OutputStream.Heaven, $"Heroku build {build.Id} started without an output stream; waiting for its result", run.Token);
            }

            while (!build.Finished)
            {
                await Task.Delay(settings.PollInterval, time, run.Token);
                build = await api.GetBuildAsync(app, build.Id, run.Token);
            }

            buildDone.TrySetResult();
            if (following is not null && await Task.WhenAny(following, Task.Delay(StreamDrain, time, run.Token)) != following)
            {
                run.Token.ThrowIfCancellationRequested();
                await output.WriteLineAsync(OutputStream.Heaven, $"The build's output did not end within {StatusTexts.Duration(StreamDrain)} of the build; the rest is on Heroku", run.Token);
            }

            Log.BuildFinished(logger, deployment.Id, build.Id, build.Status);
            await output.WriteLineAsync(OutputStream.Heaven, $"Heroku build {build.Id} {build.Status}", run.Token);
            return build.Status switch
            {
                "succeeded" => ProviderOutcome.Success("heroku build succeeded"),
                // Neither masked nor cut here: the pipeline masks every outcome, and GitHub's cut comes after that.
                "failed" => ProviderOutcome.Failure(follower.Reason is { } reason ? $"heroku build failed: {reason}" : "heroku build failed"),
                var other => ProviderOutcome.Failure($"heroku build ended as '{Clamp(other, 40)}'"),
            };
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await output.WriteLineAsync(OutputStream.Heaven, StoppedWaiting(build, "Cancelled"), CancellationToken.None);
            return new ProviderOutcome(DeployResult.Cancelled, "Cancelled");
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            await output.WriteLineAsync(OutputStream.Heaven, StoppedWaiting(build, $"Timed out after {StatusTexts.Duration(context.Timeout)}"), CancellationToken.None);
            return ProviderOutcome.Failure(StatusTexts.TimedOut(context.Timeout));
        }
        catch (HerokuApiException e)
        {
            return ProviderOutcome.Error(e.Message);
        }
        catch (Exception e) when (e is GitHubRejectedException or GitHubTransientException)
        {
            return ProviderOutcome.Error(e.Message);
        }
        finally
        {
            await stopFollowing.CancelAsync();
            if (following is not null)
            {
                await following;
            }
        }
    }

    /// <summary><c>heroku_&lt;environment&gt;_name</c>, else <c>heroku_name</c> (the original's keys), or why neither will do.</summary>
    internal static (string? App, string? Problem) AppName(DeployContext context)
    {
        var key = $"heroku_{context.Deployment.Environment}_name";
        var name = StringValue(context, key) ?? StringValue(context, "heroku_name");
        if (name is null)
        {
            return (null, $"payload.config.{key} or payload.config.heroku_name is not set; the heroku provider needs the name of the Heroku app");
        }

        return AppNamePattern().IsMatch(name)
            ? (name, null)
            : (null, $"'{Clamp(name, 60)}' is not a Heroku app name (letters, digits and dashes)");
    }

    private static string? StringValue(DeployContext context, string key) =>
        context.Config[key] is { } node && node.GetValueKind() == JsonValueKind.String && node.GetValue<string>() is { Length: > 0 } value ? value : null;

    private static string StoppedWaiting(HerokuBuild? build, string why) => build is null
        ? $"{why} before a Heroku build was started."
        : $"{why}: stopped waiting for Heroku build {build.Id}. Heroku builds cannot be stopped through the Platform API, so it may still finish and release on Heroku.";

    private static string Clamp(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";

    /// <summary>The tarball link of the exact sha; GitHub's brief hiccups are waited out a few times.</summary>
    private async Task<Uri> TarballLinkAsync(DeployContext context, HerokuOptions settings, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var link = await gitHub.GetTarballLinkAsync(context.Deployment.Repository, context.Deployment.Sha, cancellationToken);
                // A private repository's link carries a short-lived token: the whole link and the token are secrets.
                context.Masker.Add(link.AbsoluteUri);
                foreach (var pair in link.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
                {
                    var value = pair[(pair.IndexOf('=', StringComparison.Ordinal) + 1)..];
                    context.Masker.Add(value);
                    context.Masker.Add(Uri.UnescapeDataString(value));
                }

                return link;
            }
            catch (GitHubTransientException e) when (attempt < 3)
            {
                var wait = e.RetryAfter is { } asked && asked < TimeSpan.FromSeconds(10) ? asked : settings.RetryBase * attempt;
                await context.Output.WriteLineAsync(OutputStream.Heaven, $"{e.Message} Trying again in {StatusTexts.Duration(wait)}.", cancellationToken);
                await Task.Delay(wait, time, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Copies the build's output into the log as it arrives. Heroku serves the whole output from its
    /// start on every request, so after a dropped connection the lines already written are skipped.
    /// </summary>
    private async Task FollowAsync(HerokuApi api, Uri stream, IOutputSink output, Task buildDone, TimeSpan pollInterval, Follower follower, CancellationToken cancellationToken)
    {
        const int maxFailures = 5;
        var failures = 0;
        try
        {
            while (true)
            {
                // Once the build has ended, one more read gets whatever a dropped connection missed.
                var lastPass = buildDone.IsCompleted;
                var seen = 0;
                try
                {
                    await api.StreamOutputAsync(
                        stream,
                        async (line, token) =>
                        {
                            if (seen++ < follower.Written)
                            {
                                return;
                            }

                            follower.Add(line);
                            await output.WriteLineAsync(OutputStream.Stdout, line, token);
                        },
                        cancellationToken);
                    failures = 0;
                }
                catch (Exception e) when ((e is HerokuApiException or HttpRequestException or IOException or OperationCanceledException) && !cancellationToken.IsCancellationRequested)
                {
                    if (++failures >= maxFailures)
                    {
                        await output.WriteLineAsync(OutputStream.Heaven, $"The build's output could not be read ({e.Message}); waiting for the build's result without it", cancellationToken);
                        return;
                    }
                }

                if (lastPass)
                {
                    return;
                }

                await Task.WhenAny(buildDone, Task.Delay(pollInterval, time, cancellationToken));
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The deploy is over (done, cancelled or timed out); the caller says why.
        }
    }

    /// <summary>What the output follower has seen: how many lines, and Heroku's first error line.</summary>
    private sealed class Follower
    {
        private int written;
        private string? reason;

        public int Written => Volatile.Read(ref written);

        /// <summary>The first line Heroku marked as an error (" !     Push rejected, ..."), warnings aside.</summary>
        public string? Reason => Volatile.Read(ref reason);

        public void Add(string line)
        {
            Interlocked.Increment(ref written);
            var trimmed = line.Trim();
            if (reason is null && trimmed.StartsWith('!'))
            {
                var text = trimmed.TrimStart('!').Trim();
                if (text.Length > 0 && !text.StartsWith("warning", StringComparison.OrdinalIgnoreCase))
                {
                    Volatile.Write(ref reason, text);
                }
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId}: Heroku build {BuildId} created for app {App}")]
        public static partial void BuildCreated(ILogger logger, long deploymentId, string buildId, string app);

        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId}: Heroku build {BuildId} {Status}")]
        public static partial void BuildFinished(ILogger logger, long deploymentId, string buildId, string status);
    }
}
