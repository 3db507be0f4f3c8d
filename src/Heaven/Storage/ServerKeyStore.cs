using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Storage;

/// <summary>Server-wide random keys, created on first use and shared by every node through the database.</summary>
internal sealed class ServerKeyStore(IHeavenDatabase database, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, byte[]> cache = new();

    public async Task<byte[]> GetAsync(string name, CancellationToken cancellationToken)
    {
        if (cache.TryGetValue(name, out var known))
        {
            return known;
        }

        for (var attempt = 0; ; attempt++)
        {
            await using var db = await database.OpenAsync(cancellationToken);
            var stored = await db.ServerKeys.Where(k => k.Name == name).Select(k => k.Value).SingleOrDefaultAsync(cancellationToken);
            if (stored is not null)
            {
                return cache[name] = Convert.FromHexString(stored);
            }

            db.ServerKeys.Add(new ServerKey { Name = name, Value = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)), CreatedAt = time.GetUtcNow().UtcDateTime });
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException e) when (DatabaseErrors.IsUniqueViolation(e) && attempt == 0)
            {
                // Another node created it first; read theirs.
            }
        }
    }
}
