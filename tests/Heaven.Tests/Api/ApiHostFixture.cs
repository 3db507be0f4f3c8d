using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Api;

/// <summary>One Heaven for the tests that only ask the API (no deploys): started once per test class.</summary>
public sealed class ApiHostFixture : IAsyncLifetime
{
    public HeavenTestHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await HeavenTestHost.StartAsync();

    public async Task DisposeAsync() => await Host.DisposeAsync();
}
