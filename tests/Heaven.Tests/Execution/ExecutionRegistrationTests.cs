using Heaven.Execution;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Execution;

public sealed class ExecutionRegistrationTests
{
    [Fact]
    public void AddExecution_ProvidesOneProcessRunner()
    {
        using var services = new ServiceCollection().AddLogging().AddExecution().BuildServiceProvider();
        // Without a data directory there are no deployment folders, so nothing to isolate.

        var runner = services.GetRequiredService<IProcessRunner>();

        runner.ShouldBeOfType<ProcessRunner>();
        services.GetRequiredService<IProcessRunner>().ShouldBeSameAs(runner);
    }
}
