using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Heaven.Execution;
using Heaven.Model;
using Microsoft.Extensions.Options;

namespace Heaven.Providers;

/// <summary>
/// <c>dpl</c>: runs Travis CI's deploy tool in the checkout. The dpl provider comes from
/// <c>payload.config.dpl_provider</c> and its options from the <c>payload.config.dpl_options</c>
/// object, each option one <c>--name=value</c> argument. Secrets never come from the payload (anyone
/// who can read the repository reads it) and never go into arguments (anyone on the machine reads
/// those): they come from <c>Providers:Dpl:Secrets:&lt;provider&gt;</c> and reach dpl in its environment.
/// </summary>
/// <remarks>
/// The original Heaven had this provider (unregistered): it always deployed to Heroku with the app from
/// <c>heroku_name</c> / <c>heroku_staging_name</c> and the key on the command line. Without
/// <c>dpl_provider</c> a payload naming a Heroku app still deploys there, the key going by environment.
/// </remarks>
internal sealed partial class DplProvider(IProcessRunner runner, IOptions<DplOptions> options, IOptions<HerokuOptions> heroku, TargetPolicy policy) : IDeployProvider
{
    /// <summary>dpl's own option syntax (<c>--[a-z][a-z_-]*</c>), digits allowed for newer providers.</summary>
    [GeneratedRegex("^[a-z][a-z0-9_-]{0,63}$")]
    private static partial Regex OptionNamePattern();

    /// <summary>Option names that say they hold a secret; those belong in the server's configuration.</summary>
    [GeneratedRegex("api[_-]?key|token|password|passwd|secret|passphrase|private[_-]?key|credential")]
    private static partial Regex SecretOptionPattern();

    public string Name => "dpl";

    public async Task<ProviderOutcome> DeployAsync(DeployContext context, CancellationToken cancellationToken)
    {
        var (provider, arguments, problem) = Arguments(context);
        if (provider is null)
        {
            return ProviderOutcome.Error(problem!);
        }

        if (policy.Dpl(context.Deployment.Repository, provider, arguments, context.WorkingDirectory) is { } refusal)
        {
            return await refusal.RefuseAsync(context, cancellationToken);
        }

        var settings = options.Value;
        var environment = DeployEnvironment.For(context);
        var secrets = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (variable, value) in settings.SecretsFor(provider))
        {
            secrets[variable] = value;
        }

        // The original passed HEROKU_API_KEY to dpl's heroku provider; dpl 2 reads it from there.
        if (provider == "heroku" && !secrets.ContainsKey("HEROKU_API_KEY") && !string.IsNullOrEmpty(heroku.Value.ApiKey))
        {
            secrets["HEROKU_API_KEY"] = heroku.Value.ApiKey;
        }

        foreach (var (variable, value) in secrets)
        {
            context.Masker.Add(value);
            environment[variable] = value;
        }

        DirectoryInfo? gemConfiguration = null;
        try
        {
            if (policy.DplGemInstallSetting(context.Deployment.Repository) is { } setting)
            {
                // dpl installs missing provider gems with `gem install` as it starts: RubyGems is told to
                // install only from gems already on this machine, never to fetch them.
                // In the deployment's folder, so an isolated dpl can read it.
                gemConfiguration = new DirectoryInfo(context.CreateScratchFolder("dpl"));
                var gemrc = Path.Combine(gemConfiguration.FullName, "gemrc");
                await File.WriteAllTextAsync(gemrc, "install: --local\nupdate: --local\n", cancellationToken);
                context.HandOver(gemConfiguration.FullName);
                environment["GEMRC"] = gemrc;
                await context.Output.WriteLineAsync(OutputStream.Heaven, $"gem installs use only the gems on this machine ({setting}=true lets dpl fetch gems)", cancellationToken);
            }

            var given = secrets.Count == 0 ? "no secrets" : "secrets in " + string.Join(", ", secrets.Keys);
            await context.Output.WriteLineAsync(OutputStream.Heaven, $"Running dpl {CommandLine.Display(arguments)} ({given})", cancellationToken);
            var result = await runner.RunAsync(
                new ProcessSpec(settings.Command, arguments, context.WorkingDirectory, environment, context.Timeout),
                context.Output,
                cancellationToken);
            return ProviderOutcomes.FromProcess(result, context, "dpl");
        }
        catch (ProcessStartException e)
        {
            // The whole message (with the path) goes to the log; the status keeps within GitHub's 140 characters.
            await context.Output.WriteLineAsync(OutputStream.Heaven, e.Message, cancellationToken);
            return ProviderOutcome.Error($"cannot start {Path.GetFileName(settings.Command)}: install dpl (gem install dpl) or set {DplOptions.Section}:Command");
        }
        finally
        {
            try
            {
                gemConfiguration?.Delete(recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>
    /// dpl's arguments from the payload: <c>--provider=&lt;p&gt;</c>, then each option in the payload's
    /// order. Every value is one argument of its own, so nothing in it is ever read as another option.
    /// </summary>
    internal static (string? Provider, List<string> Arguments, string? Problem) Arguments(DeployContext context)
    {
        var config = context.Config;
        var arguments = new List<string>();
        var herokuApp = HerokuProvider.AppName(context).App;
        var provider = StringValue(config, "dpl_provider") ?? (herokuApp is not null ? "heroku" : null);
        if (provider is null)
        {
            return Refuse("payload.config.dpl_provider is not set; the dpl provider needs dpl's provider name (heroku, s3, pages, ...)");
        }

        if (!DplOptions.ProviderPattern().IsMatch(provider))
        {
            return Refuse($"payload.config.dpl_provider '{Clamp(provider)}' is not a dpl provider name (lower-case letters, digits, '_' and '-')");
        }

        arguments.Add($"--provider={provider}");
        var options = config["dpl_options"];
        if (options is not null and not JsonObject)
        {
            return Refuse("payload.config.dpl_options must be an object of option names and values");
        }

        foreach (var (name, value) in options as JsonObject ?? [])
        {
            var field = $"payload.config.dpl_options.{Clamp(name)}";
            if (!OptionNamePattern().IsMatch(name))
            {
                return Refuse($"{field}: option names are lower-case letters, digits, '_' and '-', starting with a letter");
            }

            if (name == "provider")
            {
                return Refuse($"{field}: the provider is payload.config.dpl_provider");
            }

            if (SecretOptionPattern().IsMatch(name))
            {
                return Refuse($"{field} looks like a secret: set it on the server ({DplOptions.Section}:Secrets:{provider}:<VARIABLE>), not in the payload");
            }

            var values = value is JsonArray list ? list.ToList() : [value];
            foreach (var item in values)
            {
                switch (item?.GetValueKind())
                {
                    case JsonValueKind.True:
                        arguments.Add($"--{name}");
                        break;
                    case JsonValueKind.False:
                        break;
                    case JsonValueKind.Number:
                        arguments.Add($"--{name}={item.ToJsonString()}");
                        break;
                    case JsonValueKind.String:
                        var text = item.GetValue<string>();
                        if (text.StartsWith('-') || text.Any(char.IsControl))
                        {
                            return Refuse($"{field}: a value may not start with '-' or contain control characters");
                        }

                        arguments.Add($"--{name}={text}");
                        break;
                    default:
                        return Refuse($"{field} must be a string, a number, true, false or a list of those");
                }
            }
        }

        // The original's dpl deploys named the Heroku app in heroku_name.
        if (provider == "heroku" && herokuApp is not null && options?["app"] is null)
        {
            arguments.Add($"--app={herokuApp}");
        }

        return (provider, arguments, null);

        static (string?, List<string>, string?) Refuse(string problem) => (null, [], problem);
    }

    private static string? StringValue(JsonObject config, string key) =>
        config[key] is { } node && node.GetValueKind() == JsonValueKind.String && node.GetValue<string>() is { Length: > 0 } value ? value : null;

    private static string Clamp(string text) => text.Length <= 40 ? text : text[..39] + "…";
}
