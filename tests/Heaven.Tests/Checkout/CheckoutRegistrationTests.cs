using Heaven.Checkout;
using Heaven.Configuration;
using Heaven.GitHub;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Checkout;

public sealed class CheckoutRegistrationTests
{
    [Fact]
    public async Task AddCheckout_ProvidesOneGitCheckoutThatWorks()
    {
        using var bench = new CheckoutBench();
        var services = new ServiceCollection()
            .AddSingleton(new DataDirectory(bench.DataPath))
            .AddSingleton(TimeProvider.System)
            .AddLogging()
            .Configure<GitOptions>(_ => { })
            .Configure<GitHubOptions>(_ => { })
            .Configure<CheckoutOptions>(o => o.AllowLocalRepositories = true)
            .AddCheckout()
            .AddCheckout();
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        var sha = bench.Source.Commit("first", ("app.txt", "version 1"));

        var checkout = provider.GetRequiredService<ICheckout>();
        await using var worktree = await checkout.PrepareAsync(bench.Request(sha), new RecordingSink(), CancellationToken.None);

        checkout.ShouldBeOfType<GitCheckout>().ShouldBeSameAs(provider.GetRequiredService<ICheckout>());
        File.ReadAllText(Path.Combine(worktree.Path, "app.txt")).ShouldBe("version 1");
    }
}
