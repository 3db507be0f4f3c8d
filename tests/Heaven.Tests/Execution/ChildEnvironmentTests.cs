using Heaven.Execution;

namespace Heaven.Tests.Execution;

public sealed class ChildEnvironmentTests
{
    [Fact]
    public void HeavensSecrets_AreNotPassed_TheAllowListIs()
    {
        var environment = ChildEnvironment.Build(new Dictionary<string, string?>
        {
            ["PATH"] = "/opt/tools/bin:/usr/bin",
            ["HOME"] = "/var/lib/heaven",
            ["LANG"] = "C.UTF-8",
            ["https_proxy"] = "http://proxy:3128",
            ["NO_PROXY"] = "localhost",
            ["GITHUB_TOKEN"] = "ghp_secret",
            ["GITHUB_CLIENT_SECRET"] = "secret",
            ["DATABASE_URL"] = "postgres://heaven:secret@db/heaven",
            ["HEROKU_API_KEY"] = "secret",
            ["AWS_ACCESS_KEY_ID"] = "AKIA",
            ["AWS_SECRET_ACCESS_KEY"] = "secret",
            ["SLACK_WEBHOOK_URL"] = "https://hooks.slack.com/secret",
            ["TERM"] = "xterm-256color",
        });

        environment.ShouldBe(new Dictionary<string, string>
        {
            ["PATH"] = "/opt/tools/bin:/usr/bin",
            ["HOME"] = "/var/lib/heaven",
            ["LANG"] = "C.UTF-8",
            ["https_proxy"] = "http://proxy:3128",
            ["NO_PROXY"] = "localhost",
            ["TERM"] = "dumb",
        }, ignoreOrder: true);
    }

    [Fact]
    public void NoPath_GetsTheDefaultPath()
    {
        ChildEnvironment.Build(new Dictionary<string, string?>())["PATH"].ShouldBe(ChildEnvironment.DefaultPath);
    }

    [Fact]
    public void TheResult_IsANewDictionary_ForTheDeployVariables()
    {
        var first = ChildEnvironment.FromCurrentProcess();
        first["BRANCH"] = "main";

        ChildEnvironment.FromCurrentProcess().ShouldNotContainKey("BRANCH");
        first["PATH"].ShouldNotBeNullOrEmpty();
    }
}
