using System.Text.Json.Nodes;

namespace Heaven.Tests.Infrastructure;

/// <summary>A <c>deployment</c> webhook body in GitHub's shape, hubot-deploy style, for a test repository.</summary>
public static class DeploymentWebhook
{
    private static long nextId = 900_000;

    public static (string Body, long GitHubId) For(
        TestRepository repository,
        string sha,
        string environment = "production",
        string reference = "master",
        string task = "deploy",
        JsonObject? config = null,
        string? name = null,
        string creator = "octocat",
        long? gitHubId = null,
        string? cloneUrl = null)
    {
        var id = gitHubId ?? Interlocked.Increment(ref nextId);
        var payload = new JsonObject
        {
            ["config"] = config ?? new JsonObject { ["provider"] = "shell", ["deploy_script"] = "script/deploy" },
            ["notify"] = new JsonObject { ["room"] = "ops", ["user"] = creator, ["adapter"] = "slack" },
        };
        if (name is not null)
        {
            payload["name"] = name;
        }

        var body = new JsonObject
        {
            ["action"] = "created",
            ["deployment"] = new JsonObject
            {
                ["url"] = $"https://api.github.com/repos/{repository.FullName}/deployments/{id}",
                ["id"] = id,
                ["sha"] = sha,
                ["ref"] = reference,
                ["task"] = task,
                ["payload"] = payload,
                ["environment"] = environment,
                ["description"] = "Deploying from hubot-deploy",
                ["creator"] = new JsonObject { ["login"] = creator, ["id"] = 1 },
            },
            ["repository"] = new JsonObject
            {
                ["id"] = 42,
                ["name"] = repository.FullName.Split('/')[1],
                ["full_name"] = repository.FullName,
                ["clone_url"] = cloneUrl ?? repository.CloneUrl,
                ["default_branch"] = "master",
            },
            ["sender"] = new JsonObject { ["login"] = creator },
        };
        return (body.ToJsonString(), id);
    }

    /// <summary>
    /// The <c>deployment</c> webhook GitHub sends for a deployment it created through the API (one of
    /// <see cref="FakeGitHub.CreatedDeployments"/>): its id, sha, ref, task, environment and payload.
    /// </summary>
    public static (string Body, long GitHubId) ForCreated(TestRepository repository, JsonObject created, string sender = "heaven-bot")
    {
        var deployment = (JsonObject)created.DeepClone();
        deployment.Remove("request");
        var body = new JsonObject
        {
            ["action"] = "created",
            ["deployment"] = deployment,
            ["repository"] = new JsonObject
            {
                ["id"] = 42,
                ["name"] = repository.FullName.Split('/')[1],
                ["full_name"] = repository.FullName,
                ["clone_url"] = repository.CloneUrl,
                ["default_branch"] = "master",
            },
            ["sender"] = new JsonObject { ["login"] = sender },
        };
        return (body.ToJsonString(), (long)deployment["id"]!);
    }
}
