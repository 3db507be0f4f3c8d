using System.Globalization;
using System.Text;
using Heaven.Cli;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Cli;

/// <summary><c>heaven log</c>: a deployment's stored log on the terminal, masked; <c>--follow</c> until it ends.</summary>
public sealed class LogCommandTests : IDisposable
{
    private readonly TestRepository repository = new();

    public void Dispose() => repository.Dispose();

    [Fact]
    public async Task Log_PrintsTheStoredLogMasked_ByHeavensIdOrGitHubs()
    {
        await using var harness = await DeployHarness.StartAsync();
        var sha = repository.CommitDeployScript($"echo 'first line'\necho \"token is {DeployHarness.Token}\" >&2\necho 'last line'");
        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");
        var data = harness.Host.DataDirectory;

        var byHeaven = await HeavenCliTests.RunAsync("log", heavenId.ToString(CultureInfo.InvariantCulture), "--DataDirectory", data, $"--GitHub:Token={DeployHarness.Token}");
        var byGitHub = await HeavenCliTests.RunAsync("log", $"gh:{gitHubId}", "--DataDirectory", data);

        byHeaven.Exit.ShouldBe(0, byHeaven.Error);
        var lines = byHeaven.Output.Split('\n');
        lines.ShouldContain("first line");
        lines.ShouldContain("last line");
        lines.ShouldContain(l => l.StartsWith("token is ", StringComparison.Ordinal));
        lines.ShouldContain(l => l.StartsWith("--> ", StringComparison.Ordinal));
        byHeaven.Output.ShouldNotContain(DeployHarness.Token);
        Array.IndexOf(lines, "first line").ShouldBeLessThan(Array.IndexOf(lines, "last line"));
        byGitHub.ShouldBe(byHeaven);
    }

    [Fact]
    public async Task LogFollow_PrintsLinesAsTheyCome_AndEndsWithTheDeploymentsOutcome()
    {
        await using var harness = await DeployHarness.StartAsync();
        using var gate = new ScriptGate();
        var sha = repository.CommitDeployScript($"echo 'before the gate'\n{gate.Wait()}\necho 'after the gate'\nexit 3");
        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        using var output = new SharedWriter();
        using var error = new SharedWriter();

        var follow = HeavenCli.RunAsync(["log", $"gh:{gitHubId}", "--follow", "--DataDirectory", harness.Host.DataDirectory], output, error);
        // Printed while the deploy still waits at the gate: the command follows, it does not wait for the end.
        await Poll.UntilAsync(() => output.Text.Contains("before the gate\n", StringComparison.Ordinal), "heaven log --follow to print the first line", state: () => output.Text + error.Text);
        follow.IsCompleted.ShouldBeFalse();
        output.Text.ShouldNotContain("after the gate");
        gate.Open();
        var exit = await follow.WaitAsync(TimeSpan.FromSeconds(120));

        exit.ShouldBe(1, error.Text);
        var lines = output.Text.Split('\n');
        lines.Count(l => l == "before the gate").ShouldBe(1);
        lines.Count(l => l == "after the gate").ShouldBe(1);
        error.Text.ShouldBe($"Deployment {heavenId} failed.\n");
    }

    [Fact]
    public async Task LogFollow_OfASuccessfulDeployment_ExitsZero()
    {
        await using var harness = await DeployHarness.StartAsync();
        var sha = repository.CommitDeployScript("echo deployed");
        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);

        var (exit, output, error) = await HeavenCliTests.RunAsync("log", heavenId.ToString(CultureInfo.InvariantCulture), "--follow", "--DataDirectory", harness.Host.DataDirectory);

        exit.ShouldBe(0, error);
        output.Split('\n').ShouldContain("deployed");
        error.ShouldBe($"Deployment {heavenId} succeeded.\n");
        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");
    }

    /// <summary>A terminal the test may read while the command still writes to it.</summary>
    private sealed class SharedWriter : TextWriter
    {
        private readonly StringBuilder text = new();

        public override Encoding Encoding => Encoding.UTF8;

        public string Text
        {
            get
            {
                lock (text)
                {
                    return text.ToString();
                }
            }
        }

        public override void Write(char value)
        {
            lock (text)
            {
                text.Append(value);
            }
        }

        public override void Write(string? value)
        {
            lock (text)
            {
                text.Append(value);
            }
        }
    }
}
