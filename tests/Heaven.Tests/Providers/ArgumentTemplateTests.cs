using Heaven.Providers;

namespace Heaven.Tests.Providers;

/// <summary>A configured command becomes an argument vector; no payload value can become syntax or an option.</summary>
public sealed class ArgumentTemplateTests
{
    private static readonly Dictionary<string, string> Values = new()
    {
        ["environment"] = "production",
        ["task"] = "deploy",
        ["ref"] = "feature/x-1.2",
        ["sha"] = "0123456789abcdef0123456789abcdef01234567",
        ["repository"] = "octo/app",
        ["app"] = "app",
    };

    [Theory]
    [InlineData("fab %{task} --environment=%{environment}", new[] { "fab", "deploy", "--environment=production" })]
    [InlineData("fab -r . --set 'a b' \"c d\"", new[] { "fab", "-r", ".", "--set", "a b", "c d" })]
    [InlineData("tool --name=\"%{environment} at %{ref}\"", new[] { "tool", "--name=production at feature/x-1.2" })]
    [InlineData("tool --name='%{environment}'x", new[] { "tool", "--name=productionx" })]
    [InlineData("tool '' x", new[] { "tool", "", "x" })]
    [InlineData("tool 'it\"s' \"it's\"", new[] { "tool", "it\"s", "it's" })]
    [InlineData("tool '$HOME' '`id`' 'a;b' \"$(reboot)\" '*' '~'", new[] { "tool", "$HOME", "`id`", "a;b", "$(reboot)", "*", "~" })]
    [InlineData("  tool\t%{sha}\n  %{repository}:%{app} ", new[] { "tool", "0123456789abcdef0123456789abcdef01234567", "octo/app:app" })]
    [InlineData("fab -R %{environment} %{task}:branch_name=%{ref}", new[] { "fab", "-R", "production", "deploy:branch_name=feature/x-1.2" })]
    [InlineData("tool 100% %done", new[] { "tool", "100%", "%done" })]
    public void ATemplate_IsSplitFirst_ThenFilledInInsideEachArgument(string template, string[] expected) =>
        ArgumentTemplate.Parse(template).Expand(Values).ShouldBe(expected);

    [Theory]
    [InlineData("fab 'deploy", "the command has an unbalanced single quote")]
    [InlineData("fab \"deploy", "the command has an unbalanced double quote")]
    [InlineData("fab 'a' \"b", "the command has an unbalanced double quote")]
    [InlineData("fab %{branch}", "the command uses the unknown placeholder %{branch} (known: %{environment}, %{task}, %{ref}, %{sha}, %{repository}, %{app})")]
    [InlineData("fab %{Task}", "the command uses the unknown placeholder %{Task}")]
    [InlineData("fab %{task", "the command has a '%{' without its closing '}'")]
    [InlineData("fab \"%{task\" x", "the command has a malformed placeholder")]
    [InlineData("%{task} --x", "the program (the first word of the command) must be written out")]
    [InlineData("'' deploy", "the program (the first word of the command) must be written out")]
    [InlineData("", "the command is empty")]
    [InlineData("   ", "the command is empty")]
    [InlineData("fab deploy && notify", "the command contains '&' outside quotes; it is not run by a shell")]
    [InlineData("fab deploy; rm -rf /", "the command contains ';' outside quotes")]
    [InlineData("fab $HOME", "the command contains '$' outside quotes")]
    [InlineData("fab `id`", "the command contains '`' outside quotes")]
    [InlineData("fab a\\ b", "the command contains '\\' outside quotes")]
    [InlineData("fab > out", "the command contains '>' outside quotes")]
    [InlineData("fab deploy | tee", "the command contains '|' outside quotes")]
    [InlineData("fab *.py", "the command contains '*' outside quotes")]
    public void ABadTemplate_IsRefusedSayingWhy(string template, string expected)
    {
        var problem = ArgumentTemplate.Problem(template);

        problem.ShouldNotBeNull();
        problem.ShouldStartWith(expected);
    }

    [Theory]
    [InlineData("ref", "master; touch /tmp/x", "it contains ';', which a shell would interpret")]
    [InlineData("ref", "master touch", "it contains a space")]
    [InlineData("ref", "$(reboot)", "it contains '$', which a shell would interpret")]
    [InlineData("ref", "a'b", "it contains ''', which a shell would interpret")]
    [InlineData("ref", "-upload-pack=evil", "it starts with '-'")]
    [InlineData("task", "deploy;touch /tmp/x", "it may only hold letters, digits and - _ . : /")]
    [InlineData("task", "deploy touch", "it may only hold letters")]
    [InlineData("task", "deploy\"", "it may only hold letters")]
    [InlineData("task", "`id`", "it may only hold letters")]
    [InlineData("environment", "production\nrm", "it may only hold letters")]
    [InlineData("environment", "", "it is empty")]
    [InlineData("sha", "HEAD", "a commit is named by 40 hexadecimal characters")]
    [InlineData("sha", "0123456789abcdef0123456789abcdef0123456g", "a commit is named by 40 hexadecimal characters")]
    [InlineData("repository", "octo/..", "'.' and '..' are not repository names")]
    [InlineData("app", "app name", "it may only hold letters")]
    public void AHostileValue_IsRefused(string name, string value, string expected)
    {
        var template = ArgumentTemplate.Parse("tool --x=%{" + name + "}");

        var error = Should.Throw<ArgumentTemplateException>(() => template.Expand(new Dictionary<string, string>(Values) { [name] = value }));

        error.Message.ShouldContain(expected);
        // Quoted with escapes: a hostile value cannot forge a line of the log or the status.
        error.Message.ShouldNotContain("\n");
    }

    [Theory]
    [InlineData("tool %{task}")]
    [InlineData("tool ''%{task}")]
    [InlineData("tool \"%{task}\"")]
    public void AValueThatWouldBeginAnArgumentWithADash_IsRefused(string template)
    {
        var error = Should.Throw<ArgumentTemplateException>(() => ArgumentTemplate.Parse(template).Expand(new Dictionary<string, string>(Values) { ["task"] = "-rf" }));

        error.Message.ShouldBe("task '-rf' cannot be used in the command: it would start an argument with '-'");
    }

    [Fact]
    public void AValueWithADash_InsideAnArgument_PassesThroughAsText()
    {
        var values = new Dictionary<string, string>(Values) { ["task"] = "-rf", ["environment"] = "--help" };

        ArgumentTemplate.Parse("tool --task=%{task} x%{environment}").Expand(values).ShouldBe(["tool", "--task=-rf", "x--help"]);
    }

    [Fact]
    public void AValueLookingLikeAPlaceholder_IsNotExpandedAgain()
    {
        // One pass: a value is never read as template text (and this one is refused anyway).
        var values = new Dictionary<string, string>(Values) { ["environment"] = "%{sha}" };

        Should.Throw<ArgumentTemplateException>(() => ArgumentTemplate.Parse("tool %{environment}").Expand(values));
    }

    [Fact]
    public void OnlyThePlaceholdersTheTemplateUses_NeedValues()
    {
        var template = ArgumentTemplate.Parse("deploy-tool %{environment}");

        template.Used.ShouldBe(["environment"]);
        template.Expand(new Dictionary<string, string> { ["environment"] = "staging", ["task"] = "deploy;rm" }).ShouldBe(["deploy-tool", "staging"]);
        Should.Throw<ArgumentTemplateException>(() => template.Expand(new Dictionary<string, string>())).Message.ShouldBe("no value for %{environment}");
    }

    [Fact]
    public void TheDefaultFabricCommand_IsAValidTemplate()
    {
        ArgumentTemplate.Parse(FabricOptions.DefaultCommandFormat).Expand(Values)
            .ShouldBe(["fab", "deploy", "--environment=production", "--ref=feature/x-1.2", "--sha=0123456789abcdef0123456789abcdef01234567"]);
    }

    [Theory]
    [InlineData("deploy", "deploy")]
    [InlineData("deploy:migrations", "deploy-migrations")]
    [InlineData("deploy:db_migrate", "deploy-db-migrate")]
    [InlineData("deploy:", null)]
    [InlineData("deploy:a:b", null)]
    [InlineData("deploy:-x", null)]
    [InlineData("deployx", null)]
    [InlineData("redeploy", null)]
    [InlineData("deploy:x;touch /tmp/y", null)]
    [InlineData("Deploy", null)]
    public void FabricTasks_AreDeployOrDeployColonName(string task, string? fabricTask) =>
        FabricProvider.TaskName(task).ShouldBe(fabricTask);
}
