using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Heaven.Configuration;
using Heaven.Execution;
using Heaven.Model;
using Microsoft.Extensions.Options;

namespace Heaven.Providers;

/// <summary>
/// <c>elastic_beanstalk</c>: zips the exact commit (<c>git archive</c>), uploads it to S3, creates an
/// application version of <c>payload.config.app_name</c>, points the environment at it, and, unlike the
/// original (which reported success as soon as the update was asked for), waits until the environment
/// is Ready and Green again, streaming its status and events into the log. All through the AWS CLI.
/// </summary>
internal sealed partial class ElasticBeanstalkProvider(
    IProcessRunner runner,
    IOptions<ElasticBeanstalkOptions> options,
    TargetPolicy policy,
    TimeProvider time,
    ILogger<ElasticBeanstalkProvider> logger) : IDeployProvider
{
    /// <summary>Elastic Beanstalk's rule for environment names: 4 to 40 letters, digits and dashes, no dash at either end.</summary>
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9-]{2,38}[A-Za-z0-9]$")]
    private static partial Regex EnvironmentNamePattern();

    public string Name => "elastic_beanstalk";

    public async Task<ProviderOutcome> DeployAsync(DeployContext context, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (Plan(context, settings, time.GetUtcNow()) is not { } plan)
        {
            return ProviderOutcome.Error(Problem(context, settings)!);
        }

        // Before the bundle is made or AWS is called: the server's credentials reach the repository's own targets only.
        if (policy.Beanstalk(context.Deployment.Repository, plan.App, plan.Environment) is { } refusal)
        {
            return await refusal.RefuseAsync(context, cancellationToken);
        }

        context.Masker.Add(settings.SecretAccessKey!);
        var output = context.Output;
        var started = time.GetTimestamp();
        // In the deployment's folder: git archive runs there as the deploy does (isolated) and writes the bundle.
        var bundleDirectory = new DirectoryInfo(context.CreateScratchFolder("eb"));
        context.HandOver(bundleDirectory.FullName);
        var aws = new AwsCli(
            runner,
            settings.AwsCli,
            bundleDirectory.FullName,
            AwsCli.Environment(settings.AccessKeyId!, settings.SecretAccessKey!, plan.Region),
            output);
        // Each step gets what is left of the deploy's time; a step never gets less than a moment.
        TimeSpan Remaining() => context.Timeout - time.GetElapsedTime(started) is var left && left > TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100);
        var updateRequested = false;
        var archiving = true;

        try
        {
            // 1. The exact commit as a zip, files at its root: what Elastic Beanstalk unpacks.
            var bundle = Path.Combine(bundleDirectory.FullName, "bundle.zip");
            await output.WriteLineAsync(OutputStream.Heaven, $"Packing {StatusTexts.Short(context.Deployment.Sha)} into a source bundle (git archive)", cancellationToken);
            var archive = await runner.RunAsync(
                new ProcessSpec("git", ["archive", "--format=zip", $"--output={bundle}", context.Deployment.Sha], context.WorkingDirectory, GitEnvironment(), Remaining()),
                output,
                cancellationToken);
            if (Stopped(archive, context) is { } stoppedArchive)
            {
                return stoppedArchive;
            }

            if (!archive.Succeeded)
            {
                return ProviderOutcome.Error($"git archive of {StatusTexts.Short(context.Deployment.Sha)} failed with status {archive.ExitCode}");
            }

            archiving = false;
            await output.WriteLineAsync(OutputStream.Heaven, $"Uploading the source bundle ({new FileInfo(bundle).Length.ToString("N0", CultureInfo.InvariantCulture)} bytes) to s3://{plan.Bucket}/{plan.Key}", cancellationToken);

            // 2. Upload; 3. the application version; 4. the environment update.
            var steps = new (string What, List<string> Arguments)[]
            {
                ("s3api put-object", WithEndpoint(["s3api", "put-object", $"--bucket={plan.Bucket}", $"--key={plan.Key}", $"--body={bundle}"], settings.S3Endpoint)),
                ("elasticbeanstalk create-application-version", WithEndpoint(
                [
                    "elasticbeanstalk", "create-application-version",
                    $"--application-name={plan.App}",
                    $"--version-label={plan.VersionLabel}",
                    $"--description={plan.Description}",
                    // JSON rather than the shorthand syntax, which commas and '=' in a key would break.
                    "--source-bundle=" + new JsonObject { ["S3Bucket"] = plan.Bucket, ["S3Key"] = plan.Key }.ToJsonString(),
                ], settings.EndpointUrl)),
                ("elasticbeanstalk update-environment", WithEndpoint(
                [
                    "elasticbeanstalk", "update-environment",
                    $"--application-name={plan.App}",
                    $"--environment-name={plan.Environment}",
                    $"--version-label={plan.VersionLabel}",
                ], settings.EndpointUrl)),
            };
            AwsCliResult? update = null;
            foreach (var (what, arguments) in steps)
            {
                var step = await aws.RunAsync(arguments, Remaining(), cancellationToken);
                if (Stopped(step.Process, context) is { } stopped)
                {
                    return stopped;
                }

                if (!step.Process.Succeeded)
                {
                    return ProviderOutcome.Failure(Failed(what, step));
                }

                update = step;
            }

            updateRequested = true;
            Log.UpdateRequested(logger, context.Deployment.Id, plan.App, plan.Environment, plan.VersionLabel);
            var since = update!.Json()["DateUpdated"] is JsonValue date && date.TryGetValue<string>(out var at) ? at : null;
            return await WaitAsync(aws, plan, settings, since, context, () => context.Timeout - time.GetElapsedTime(started), cancellationToken);
        }
        catch (ProcessStartException e) when (!archiving)
        {
            await output.WriteLineAsync(OutputStream.Heaven, e.Message, cancellationToken);
            return ProviderOutcome.Error($"cannot start {Path.GetFileName(settings.AwsCli)}: install the AWS CLI (apt-get install awscli) or set {ElasticBeanstalkOptions.Section}:AwsCli");
        }
        catch (ProcessStartException e)
        {
            return ProviderOutcome.Error(e.Message);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            if (updateRequested)
            {
                await output.WriteLineAsync(OutputStream.Heaven, StillUpdating(plan, "Cancelled"), CancellationToken.None);
            }

            return new ProviderOutcome(DeployResult.Cancelled, "Cancelled");
        }
        finally
        {
            try
            {
                bundleDirectory.Delete(recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Polls the environment until it is Ready and Green (success), Red, rolled back or gone (failure), or time is up.</summary>
    private async Task<ProviderOutcome> WaitAsync(
        AwsCli aws,
        DeployPlan plan,
        ElasticBeanstalkOptions settings,
        string? since,
        DeployContext context,
        Func<TimeSpan> remaining,
        CancellationToken cancellationToken)
    {
        var output = context.Output;
        var shownEvents = new HashSet<string>(StringComparer.Ordinal);
        var eventsWork = true;
        string? lastErrorEvent = null;
        // Events are asked for from the update's own time, as AWS's clock says, so clock skew between
        // this machine and AWS neither hides this update's events nor shows an older update's.
        var eventsSince = since ?? time.GetUtcNow().AddMinutes(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        await output.WriteLineAsync(OutputStream.Heaven, $"Waiting for environment {plan.Environment} to be Ready and Green with version {plan.VersionLabel}", cancellationToken);

        // The describe commands are shown once; after that only what they found.
        var quiet = false;
        while (true)
        {
            var wait = settings.PollInterval < remaining() ? settings.PollInterval : remaining();
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, cancellationToken);
            }

            if (remaining() <= TimeSpan.Zero)
            {
                return await TimedOutAsync(context, plan);
            }

            var described = await aws.RunAsync(
                WithEndpoint(["elasticbeanstalk", "describe-environments", $"--application-name={plan.App}", $"--environment-names={plan.Environment}"], settings.EndpointUrl),
                remaining(),
                cancellationToken,
                quiet);
            if (described.Process.TimedOut)
            {
                return await TimedOutAsync(context, plan);
            }

            if (described.Process.Cancelled)
            {
                await output.WriteLineAsync(OutputStream.Heaven, StillUpdating(plan, "Cancelled"), CancellationToken.None);
                return new ProviderOutcome(DeployResult.Cancelled, "Cancelled");
            }

            if (!described.Process.Succeeded)
            {
                return ProviderOutcome.Failure(Failed("elasticbeanstalk describe-environments", described));
            }

            if (eventsWork && remaining() > TimeSpan.Zero)
            {
                var events = await aws.RunAsync(
                    WithEndpoint(["elasticbeanstalk", "describe-events", $"--application-name={plan.App}", $"--environment-name={plan.Environment}", $"--start-time={eventsSince}"], settings.EndpointUrl),
                    remaining(),
                    cancellationToken,
                    quiet);
                if (events.Process.Succeeded)
                {
                    lastErrorEvent = await ShowEventsAsync(events.Json(), shownEvents, output, cancellationToken) ?? lastErrorEvent;
                }
                else if (!events.Process.TimedOut && !events.Process.Cancelled)
                {
                    // Events are a courtesy: a role without elasticbeanstalk:DescribeEvents still deploys.
                    eventsWork = false;
                    await output.WriteLineAsync(OutputStream.Heaven, "The environment's events cannot be read; following its status only", cancellationToken);
                }
            }

            quiet = true;
            var environment = (described.Json()["Environments"] as JsonArray)?.OfType<JsonObject>()
                .FirstOrDefault(e => string.Equals(Text(e, "EnvironmentName"), plan.Environment, StringComparison.OrdinalIgnoreCase));
            if (environment is null)
            {
                return ProviderOutcome.Failure($"environment {plan.Environment} of {plan.App} was not found in {plan.Region}");
            }

            var status = Text(environment, "Status") ?? "?";
            var health = Text(environment, "Health") ?? "?";
            var version = Text(environment, "VersionLabel");
            await output.WriteLineAsync(OutputStream.Heaven, $"Environment {plan.Environment}: {status}, health {health}, version {version ?? "-"}", cancellationToken);

            // Neither masked nor cut here: the pipeline masks every outcome, and GitHub's cut comes after that.
            var reason = lastErrorEvent is null ? "" : ": " + lastErrorEvent;
            switch (status)
            {
                case "Terminating" or "Terminated":
                    return ProviderOutcome.Failure($"environment {plan.Environment} is {status.ToLowerInvariant()}");
                case "Ready" when version != plan.VersionLabel:
                    return ProviderOutcome.Failure($"environment {plan.Environment} is back on version {Clamp(version ?? "-", 40)}: the update failed{reason}");
                case "Ready" when health == "Green":
                    Log.Healthy(logger, context.Deployment.Id, plan.Environment, plan.VersionLabel);
                    return ProviderOutcome.Success($"environment {plan.Environment} runs {plan.VersionLabel}, Ready and Green");
                case "Ready" when health == "Red":
                    return ProviderOutcome.Failure($"environment {plan.Environment} is Red after the update{reason}");
            }
        }
    }

    /// <summary>Prints the events not yet shown, oldest first; returns the newest ERROR among them.</summary>
    private static async Task<string?> ShowEventsAsync(JsonObject answer, HashSet<string> shown, IOutputSink output, CancellationToken cancellationToken)
    {
        string? lastError = null;
        // The API lists the newest first.
        foreach (var item in ((answer["Events"] as JsonArray)?.OfType<JsonObject>() ?? []).Reverse())
        {
            var date = Text(item, "EventDate") ?? "";
            var message = Text(item, "Message") ?? "";
            var severity = Text(item, "Severity") ?? "INFO";
            if (!shown.Add(date + "\n" + message))
            {
                continue;
            }

            await output.WriteLineAsync(OutputStream.Stdout, $"{date} {severity} {message}", cancellationToken);
            if (severity is "ERROR" or "FATAL")
            {
                lastError = message;
            }
        }

        return lastError;
    }

    /// <summary>Everything the deploy needs from the payload and the settings, or null when something is missing.</summary>
    private static DeployPlan? Plan(DeployContext context, ElasticBeanstalkOptions settings, DateTimeOffset now)
    {
        if (Problem(context, settings) is not null)
        {
            return null;
        }

        var deployment = context.Deployment;
        var app = StringValue(context.Config, "app_name")!;
        var environment = StringValue(context.Config, "environment_name") ?? deployment.Environment;
        var region = RegionOf(context) ?? settings.Region;
        var sha8 = StatusTexts.Short(deployment.Sha);
        // GitHub's deployment id never repeats, so neither does the label (Elastic Beanstalk refuses a
        // label it already has); a command-line deploy has none and uses the time.
        var label = deployment.GitHubDeploymentId > 0
            ? $"{sha8}-{deployment.GitHubDeploymentId.ToString(CultureInfo.InvariantCulture)}"
            : $"{sha8}-local-{now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)}";
        var description = Clamp($"Heaven: {deployment.Repository} {deployment.Ref} ({sha8}) to {deployment.Environment}", 200);
        return new DeployPlan(app, environment, region, settings.S3Bucket!, $"{app}/{deployment.Sha}.zip", label, description);
    }

    /// <summary>What is missing or wrong, in words that name the setting or payload field to fix.</summary>
    private static string? Problem(DeployContext context, ElasticBeanstalkOptions settings)
    {
        var app = StringValue(context.Config, "app_name");
        if (app is null)
        {
            return "payload.config.app_name is not set; the elastic_beanstalk provider needs the Elastic Beanstalk application's name";
        }

        if (app.Length > 100 || app.Contains('/') || app.Any(char.IsControl))
        {
            return $"payload.config.app_name '{Clamp(app, 60)}' is not an Elastic Beanstalk application name (at most 100 characters, no '/')";
        }

        var environment = StringValue(context.Config, "environment_name") ?? context.Deployment.Environment;
        if (!EnvironmentNamePattern().IsMatch(environment))
        {
            return $"'{Clamp(environment, 60)}' is not an Elastic Beanstalk environment name (4 to 40 letters, digits and dashes); set payload.config.environment_name";
        }

        if (RegionOf(context) is { } region && !ElasticBeanstalkOptions.RegionPattern().IsMatch(region))
        {
            return $"'{Clamp(region, 40)}' is not an AWS region name (payload.config.region)";
        }

        if (string.IsNullOrWhiteSpace(settings.S3Bucket))
        {
            return $"{Setting.Name(ElasticBeanstalkOptions.Section + ":S3Bucket")} is not set; the elastic_beanstalk provider uploads the source bundle there";
        }

        foreach (var (name, value) in new[] { ("AccessKeyId", settings.AccessKeyId), ("SecretAccessKey", settings.SecretAccessKey) })
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                return $"{Setting.Name(ElasticBeanstalkOptions.Section + ":" + name)} is not set; the elastic_beanstalk provider needs it";
            }
        }

        return null;
    }

    /// <summary><c>payload.config.region</c>, else <c>payload.aws.region</c> (where the original read it).</summary>
    private static string? RegionOf(DeployContext context) =>
        StringValue(context.Config, "region") ?? StringValue(context.Payload.Section("aws"), "region");

    private static List<string> WithEndpoint(List<string> arguments, string? endpoint)
    {
        if (!string.IsNullOrEmpty(endpoint))
        {
            arguments.Add($"--endpoint-url={endpoint}");
        }

        return arguments;
    }

    /// <summary>Git for a local command: the deploy's allow-listed environment, no system config, never a prompt.</summary>
    private static Dictionary<string, string> GitEnvironment()
    {
        var environment = ChildEnvironment.FromCurrentProcess();
        environment["GIT_CONFIG_NOSYSTEM"] = "1";
        environment["GIT_TERMINAL_PROMPT"] = "0";
        return environment;
    }

    /// <summary>The outcome when a step was cancelled or timed out, else null.</summary>
    private static ProviderOutcome? Stopped(ProcessResult result, DeployContext context) =>
        result.Cancelled ? new ProviderOutcome(DeployResult.Cancelled, "Cancelled")
        : result.TimedOut ? ProviderOutcome.Failure(StatusTexts.TimedOut(context.Timeout))
        : null;

    private static async Task<ProviderOutcome> TimedOutAsync(DeployContext context, DeployPlan plan)
    {
        await context.Output.WriteLineAsync(OutputStream.Heaven, StillUpdating(plan, $"Timed out after {StatusTexts.Duration(context.Timeout)}"), CancellationToken.None);
        return ProviderOutcome.Failure(StatusTexts.TimedOut(context.Timeout));
    }

    private static string StillUpdating(DeployPlan? plan, string why) => plan is null
        ? why
        : $"{why}: stopped waiting for environment {plan.Environment}; its update goes on in AWS (aws elasticbeanstalk abort-environment-update --environment-name={plan.Environment} stops it)";

    private static string Failed(string what, AwsCliResult step) =>
        $"aws {what} exited with status {step.Process.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "?"}"
        + (step.LastError is { } error ? ": " + error : "");

    private static string? StringValue(JsonObject config, string key) =>
        config[key] is { } node && node.GetValueKind() == JsonValueKind.String && node.GetValue<string>() is { Length: > 0 } value ? value : null;

    private static string? Text(JsonObject item, string key) => StringValue(item, key);

    private static string Clamp(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";

    private sealed record DeployPlan(string App, string Environment, string Region, string Bucket, string Key, string VersionLabel, string Description);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId}: Elastic Beanstalk {App}/{Environment} is updating to {VersionLabel}")]
        public static partial void UpdateRequested(ILogger logger, long deploymentId, string app, string environment, string versionLabel);

        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId}: Elastic Beanstalk environment {Environment} is Ready and Green on {VersionLabel}")]
        public static partial void Healthy(ILogger logger, long deploymentId, string environment, string versionLabel);
    }
}
