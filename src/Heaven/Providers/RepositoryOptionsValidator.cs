using Heaven.Repositories;
using Heaven.Ssh;
using Microsoft.Extensions.Options;

namespace Heaven.Providers;

/// <summary>Checks the repositories' settings at start, against the providers Heaven has.</summary>
/// <remarks>
/// The providers are looked up when validating, not injected: the command provider reads these
/// options, so injecting the providers here would make the options depend on themselves.
/// </remarks>
internal sealed class RepositoryOptionsValidator(IServiceProvider services) : IValidateOptions<RepositoryOptions>
{
    public ValidateOptionsResult Validate(string? name, RepositoryOptions options)
    {
        var names = services.GetServices<IDeployProvider>().Select(p => p.Name).Order(StringComparer.Ordinal).ToList();
        var known = string.Join(", ", names);
        var failures = new List<string>(options.LoadProblems);
        foreach (var repository in options.Repositories)
        {
            var prefix = $"{RepositoryOptions.Section}:{repository.Repository}";
            if (repository.Provider is not null && repository.Providers.Count > 0)
            {
                failures.Add($"{prefix} sets both Provider and Providers: Provider pins one provider, Providers allows several; keep one of them.");
            }

            if (repository.Provider is { } pinned && !names.Contains(pinned))
            {
                failures.Add($"{prefix}:Provider is '{pinned}', which is not one of Heaven's providers ({known}).");
            }

            foreach (var provider in repository.Providers.Where(p => !names.Contains(p)))
            {
                failures.Add($"{prefix}:Providers names '{provider}', which is not one of Heaven's providers ({known}).");
            }

            if (repository.AutoDeploy is { } autoDeploy)
            {
                foreach (var environment in autoDeploy.Environments.Where(e => e.Any(char.IsWhiteSpace) || e.Length > 255))
                {
                    failures.Add($"{prefix}:AutoDeploy:Environments names '{environment}', which is not an environment name (no spaces, at most 255 characters).");
                }

                foreach (var environment in autoDeploy.Environments.Where(e => repository.Environments.Count > 0 && !repository.Environments.Contains(e, StringComparer.OrdinalIgnoreCase)))
                {
                    failures.Add($"{prefix}:AutoDeploy:Environments names '{environment}', which {prefix}:Environments does not allow ({string.Join(", ", repository.Environments)}).");
                }
            }

            foreach (var environment in repository.Environments.Where(e => e.Any(char.IsWhiteSpace) || e.Length > 255))
            {
                failures.Add($"{prefix}:Environments names '{environment}', which is not an environment name (no spaces, at most 255 characters).");
            }

            if (repository.Command is { } command && ArgumentTemplate.Problem(command) is { } problem)
            {
                failures.Add($"{prefix}:Command is not a usable command: {problem}.");
            }

            failures.AddRange(TargetProblems(repository, prefix));

            foreach (var (environment, template) in repository.EnvironmentCommands)
            {
                if (ArgumentTemplate.Problem(template) is { } environmentProblem)
                {
                    failures.Add($"{prefix}:Environments:{environment}:Command is not a usable command: {environmentProblem}.");
                }
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>The repository's own deploy key and its target lists. Messages never repeat the key.</summary>
    private static IEnumerable<string> TargetProblems(RepositorySettings repository, string prefix)
    {
        if (repository.DeployKey is { } key && !DeployKey.TryParse(key, out _, out var keyProblem))
        {
            yield return $"{prefix}:DeployKey is not a usable private key: {keyProblem}. (Its value is not shown.)";
        }

        var targets = repository.Targets;
        foreach (var provider in (targets.DplProviders ?? []).Where(p => !DplOptions.ProviderPattern().IsMatch(p)))
        {
            yield return $"{prefix}:Dpl:Providers names '{provider}', which is not a dpl provider name (lower-case letters, digits, '_' and '-').";
        }

        foreach (var provider in targets.DplTargets.Keys.Where(p => !TargetPolicy.DplTargetOptions.ContainsKey(p)))
        {
            yield return $"{prefix}:Dpl:Targets:{provider}: Heaven knows no target option of dpl's '{provider}' provider (it checks {string.Join(", ", TargetPolicy.DplTargetOptions.Select(t => $"{t.Key} --{t.Value}"))}); list the provider under {prefix}:Dpl:Providers instead.";
        }
    }
}
