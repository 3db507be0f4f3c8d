using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Checkout;
using Heaven.Execution;
using Heaven.Model;

namespace Heaven.Providers;

/// <summary>
/// <c>ansible</c>: runs <c>ansible-playbook -i &lt;inventory&gt; --extra-vars &lt;json&gt; &lt;playbook&gt;</c> in the
/// checkout. The inventory and the playbook come from <c>payload.config.ansible_inventory</c> and
/// <c>payload.config.ansible_playbook</c> (default <c>ansible/hosts</c> and <c>ansible/site.yml</c>, the
/// original Heaven's layout) and must be files of the repository. The deployment's values reach the
/// playbook as one JSON argument, so none of them can become an option or a second argument.
/// </summary>
internal sealed class AnsibleProvider(IProcessRunner runner) : IDeployProvider
{
    public const string DefaultInventory = "ansible/hosts";
    public const string DefaultPlaybook = "ansible/site.yml";

    public string Name => "ansible";

    public async Task<ProviderOutcome> DeployAsync(DeployContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var deployment = context.Deployment;
        if (!Capistrano.DeployTask().IsMatch(deployment.Task ?? ""))
        {
            return ProviderOutcome.Error($"task {RefName.Quote(deployment.Task)} is not a deploy task; the ansible provider runs deploy or deploy:<name> (lower-case letters, digits, _)");
        }

        // Ansible renders '{{ }}', '{% %}' and '{# #}' in variable values when a play uses them: a value
        // holding '{' could run a lookup on the deploying machine. The sha is hex and the task checked above.
        foreach (var (what, value) in new[] { ("environment", deployment.Environment), ("ref", deployment.Ref) })
        {
            if (string.IsNullOrEmpty(value) || value.Contains('{', StringComparison.Ordinal) || value.Any(char.IsControl))
            {
                return ProviderOutcome.Error($"{what} {RefName.Quote(value)} cannot be given to Ansible: it is empty, or holds '{{' (which Ansible would render as a template) or a control character");
            }
        }

        var (inventory, inventoryProblem) = Resolve(context, "ansible_inventory", DefaultInventory, "inventory");
        if (inventory is null)
        {
            return ProviderOutcome.Error(inventoryProblem!);
        }

        var (playbook, playbookProblem) = Resolve(context, "ansible_playbook", DefaultPlaybook, "playbook");
        if (playbook is null)
        {
            return ProviderOutcome.Error(playbookProblem!);
        }

        var scratch = context.CreateScratchFolder("ansible");
        try
        {
            var environment = DeployEnvironment.For(context);
            foreach (var (name, value) in AnsibleEnvironment(context, scratch))
            {
                environment[name] = value;
            }

            context.HandOver(scratch);

            if (environment["ANSIBLE_CONFIG"].StartsWith(context.WorkingDirectory, StringComparison.Ordinal))
            {
                await context.Output.WriteLineAsync(OutputStream.Heaven, "Using the repository's ansible.cfg", cancellationToken);
            }

            List<string> command = ["ansible-playbook", "-i", inventory, "--extra-vars", ExtraVariables(deployment), playbook];
            return await CommandRunner.RunAsync(runner, context, command, "ansible-playbook", environment, context.Timeout, cancellationToken);
        }
        finally
        {
            try
            {
                Directory.Delete(scratch, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp folder is harmless; the deploy's outcome matters more.
            }
        }
    }

    /// <summary>The variables every play gets: one JSON object, so values stay values (Ansible reads JSON extra vars as data).</summary>
    public static string ExtraVariables(Heaven.Model.DeploymentRecord deployment) =>
        new JsonObject
        {
            ["sha"] = deployment.Sha,
            ["ref"] = deployment.Ref,
            // Not "environment": that is a play keyword, and a play sees [] under that name.
            ["deploy_env"] = deployment.Environment,
            ["deploy_task"] = deployment.Task,
            ["heaven_deployment_id"] = deployment.Id,
        }.ToJsonString(new JsonSerializerOptions { WriteIndented = false });

    /// <summary>
    /// Settings that keep Ansible to this deployment: no colours in the log, no retry files in the
    /// checkout, temp files in a folder removed afterwards, ssh with Heaven's known hosts and no
    /// persistent control masters outliving the deploy, and no configuration of the Heaven user's.
    /// </summary>
    private static Dictionary<string, string> AnsibleEnvironment(DeployContext context, string scratch)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["ANSIBLE_CONFIG"] = Config(context.WorkingDirectory, scratch),
            ["ANSIBLE_NOCOLOR"] = "1",
            ["ANSIBLE_FORCE_COLOR"] = "0",
            ["ANSIBLE_RETRY_FILES_ENABLED"] = "0",
            ["ANSIBLE_LOCAL_TEMP"] = Path.Combine(scratch, "local"),
            // Made with mkdir -p on each server, so a folder under /tmp works there as well as here.
            ["ANSIBLE_REMOTE_TEMP"] = Path.Combine(scratch, "remote"),
            ["ANSIBLE_SSH_CONTROL_PATH_DIR"] = Path.Combine(scratch, "cp"),
            // On in both of Heaven's modes: accept-new checks too (a changed key is refused). Off would
            // make Ansible pass StrictHostKeyChecking=no and let Paramiko connections trust anything.
            ["ANSIBLE_HOST_KEY_CHECKING"] = "True",
            ["PYTHONUNBUFFERED"] = "1",
        };

        // Ansible's default ssh_args start a ControlPersist master that outlives the deploy; Heaven's
        // ssh_config instead (known hosts, checking, BatchMode). The ssh wrapper on the PATH adds the same options.
        if (context.ExtraEnvironment.TryGetValue("HEAVEN_SSH_CONFIG", out var sshConfig))
        {
            variables["ANSIBLE_SSH_ARGS"] = "-F " + ShellWord(sshConfig) + " -o ControlMaster=no";
        }

        return variables;
    }

    /// <summary>The repository's ansible.cfg at its root when it has one, else an empty one of Heaven's: never ~/.ansible.cfg or /etc/ansible.</summary>
    private static string Config(string checkout, string scratch)
    {
        if (File.Exists(Path.Combine(checkout, "ansible.cfg")) && CheckoutFile.Resolve(checkout, "ansible.cfg", "ansible.cfg").Path is { } own)
        {
            return own;
        }

        var path = Path.Combine(scratch, "ansible.cfg");
        File.WriteAllText(path, "# Written by Heaven: the repository has no ansible.cfg, and the Heaven user's must not apply.\n[defaults]\n");
        return path;
    }

    private static (string? Path, string? Problem) Resolve(DeployContext context, string key, string fallback, string what)
    {
        var node = context.Config[key];
        string relative;
        if (node is null)
        {
            relative = fallback;
        }
        else if (node.GetValueKind() == JsonValueKind.String && node.GetValue<string>() is { Length: > 0 } given)
        {
            relative = given;
        }
        else
        {
            return (null, $"payload.config.{key} must be the path of the {what} in the repository (default {fallback})");
        }

        return CheckoutFile.Resolve(context.WorkingDirectory, relative, $"{what} (payload.config.{key})");
    }

    /// <summary>Quoted the way Ansible splits ssh_args (shlex).</summary>
    private static string ShellWord(string word) => "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
