using Heaven.Intake;
using Heaven.Storage;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Infrastructure;

/// <summary>What a test host has in its database, read back through the same storage Heaven uses.</summary>
public static class StoredRows
{
    public static async Task<T> QueryAsync<T>(this HeavenTestHost host, Func<HeavenDbContext, Task<T>> query)
    {
        await using var db = await host.Services.GetRequiredService<IHeavenDatabase>().OpenAsync(CancellationToken.None);
        return await query(db);
    }

    public static async Task<(int Deliveries, int Deployments, int WorkItems, int Hooks)> CountsAsync(this HeavenTestHost host) =>
        await host.QueryAsync(async db => (
            await db.Deliveries.CountAsync(),
            await db.Deployments.CountAsync(),
            await db.WorkItems.CountAsync(),
            await db.Hooks.CountAsync()));

    public static async Task ShouldHaveStoredNothingAsync(this HeavenTestHost host) =>
        (await host.CountsAsync()).ShouldBe((0, 0, 0, 0));
}
