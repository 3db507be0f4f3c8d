using Heaven.Model;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Checkout;

/// <summary>A deployment whose clone URL points anywhere but the configured GitHub ends in an error status that names the setting.</summary>
public sealed class CloneHostTests : IDisposable
{
    private readonly TestRepository repository = new("octo/app");

    public void Dispose() => repository.Dispose();

    [Fact]
    public async Task ACloneUrlOnAnotherHost_EndsInAnErrorStatusWithoutAFetch()
    {
        await using var harness = await DeployHarness.StartAsync();
        var sha = repository.CommitDeployScript("echo deployed");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha, cloneUrl: "https://evil.example/octo/app.git");
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "clone URL host evil.example is not GitHub:WebUrl's host (127.0.0.1); add it to GitHub:CloneHosts"));
        (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Errored);
        (await harness.LogAsync(heavenId)).ShouldNotContain("Fetching");
        Directory.Exists(Path.Combine(harness.Host.DataDirectory, "repositories")).ShouldBeFalse();
    }

    [Fact]
    public async Task ALocalCloneUrl_WithoutAllowLocalRepositories_EndsInAnErrorStatusNamingIt()
    {
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Checkout:AllowLocalRepositories"] = null });
        var sha = repository.CommitDeployScript("echo deployed");

        var (gitHubId, _) = await harness.DeployAsync(repository, sha);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        (final.State, final.Description).ShouldBe(("error", "the clone URL is a local repository (file://), which is only fetched with Checkout:AllowLocalRepositories=true"));
        Directory.Exists(Path.Combine(harness.Host.DataDirectory, "repositories")).ShouldBeFalse();
    }

    [Fact]
    public async Task ALocalCloneUrl_WithAllowLocalRepositories_IsDeployed()
    {
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?> { ["Checkout:AllowLocalRepositories"] = "true" });
        var sha = repository.CommitDeployScript("echo deployed");

        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        var final = await harness.WaitForFinalStatusAsync(repository, gitHubId);

        final.State.ShouldBe("success");
        (await harness.LogAsync(heavenId)).ShouldContain("deployed");
    }
}
