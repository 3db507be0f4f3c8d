using Heaven.Repositories;
using Microsoft.Extensions.Options;

namespace Heaven.Intake;

/// <summary>Checks the repositories' own webhook secrets at start (<c>Repositories:&lt;owner/name&gt;:WebhookSecret</c>).</summary>
internal sealed class RepositoryWebhookSecretsValidator(IOptions<WebhookOptions> webhooks) : IValidateOptions<RepositoryOptions>
{
    public ValidateOptionsResult Validate(string? name, RepositoryOptions options)
    {
        var serverWide = new[] { webhooks.Value.Secret, webhooks.Value.SecondarySecret }.Where(s => !string.IsNullOrEmpty(s)).ToList();
        var failures = new List<string>();
        foreach (var repository in options.Repositories.Where(r => !string.IsNullOrEmpty(r.WebhookSecret)))
        {
            var key = $"{RepositoryOptions.Section}:{repository.Repository}:WebhookSecret";
            if (repository.WebhookSecret!.Length < 16)
            {
                failures.Add($"{key} is too short to protect a deploy endpoint: use at least 16 characters.");
            }
            else if (serverWide.Contains(repository.WebhookSecret, StringComparer.Ordinal))
            {
                // The point of a repository's own secret is that the server-wide one cannot sign for it.
                failures.Add($"{key} is the same as the server-wide secret (Webhooks:Secret or Webhooks:SecondarySecret): give the repository a secret of its own.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
