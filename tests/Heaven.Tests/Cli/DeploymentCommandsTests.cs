using System.Globalization;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Cli;

/// <summary><c>heaven deployments</c>, <c>heaven redeploy</c>, <c>heaven rollback</c>.</summary>
public sealed class DeploymentCommandsTests : IDisposable
{
    private readonly TestRepository repository = new("octo/app");

    public void Dispose() => repository.Dispose();

    [Fact]
    public async Task Deployments_ListsNewestFirst_RedeployAndRollbackAskGitHub_AndBadUsageExits2()
    {
        await using var harness = await DeployHarness.StartAsync();
        var first = repository.CommitDeployScript("echo first");
        var (firstGitHub, firstId) = await harness.DeployAsync(repository, first);
        (await harness.WaitForFinalStatusAsync(repository, firstGitHub)).State.ShouldBe("success");
        string[] settings = ["--DataDirectory", harness.Host.DataDirectory, $"--GitHub:ApiUrl={harness.GitHub.ApiUrl}", $"--GitHub:Token={DeployHarness.Token}"];

        var list = await HeavenCliTests.RunAsync(["deployments", "--repository", "octo/app", "--state", "success", .. settings]);
        list.Exit.ShouldBe(0, list.Error);
        var lines = list.Output.TrimEnd('\n').Split('\n');
        lines[0].ShouldStartWith("ID");
        lines[1].ShouldStartWith(firstId.ToString(CultureInfo.InvariantCulture));
        lines[1].ShouldContain($"gh:{firstGitHub}");
        lines[1].ShouldContain(first[..7]);
        (await HeavenCliTests.RunAsync(["deployments", "--state", "exploded", .. settings])).Exit.ShouldBe(2);

        var nothing = await HeavenCliTests.RunAsync(["rollback", "octo/app", "production", .. settings]);
        nothing.Exit.ShouldBe(1);
        nothing.Error.ShouldStartWith("Nothing to roll back to");
        (await HeavenCliTests.RunAsync(["rollback", "not-a-repo", "production", .. settings])).Exit.ShouldBe(2);

        var redeploy = await HeavenCliTests.RunAsync(["redeploy", $"gh:{firstGitHub}", "--by", "carol", .. settings]);
        redeploy.Exit.ShouldBe(0, redeploy.Error);
        var created = harness.GitHub.CreatedDeployments.ShouldHaveSingleItem();
        ((string?)created["request"]!["ref"], (string?)created["request"]!["description"]).ShouldBe((first, $"Redeploy {first[..7]} by carol"));
        redeploy.Output.ShouldContain($"GitHub deployment {created["id"]} created");
        (await HeavenCliTests.RunAsync(["redeploy", "99999", .. settings])).Exit.ShouldBe(1);
    }
}
