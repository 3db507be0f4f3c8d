using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Storage;

/// <summary>Server-wide random keys, created on first use and shared by every node through the database.</summary>
/// <remarks>
/// Read from the database at every use, not kept in memory: a key replaced by <see cref="RotateAsync"/>
/// (an operator command, or another node) must stop working on every node at once. A read is one
/// primary-key lookup, made when a log link is issued or opened.
/// </remarks>
internal sealed class ServerKeyStore(IHeavenDatabase database, TimeProvider time)
{
    public async Task<byte[]> GetAsync(string name, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            await using var db = await database.OpenAsync(cancellationToken);
            var stored = await db.ServerKeys.Where(k => k.Name == name).Select(k => k.Value).SingleOrDefaultAsync(cancellationToken);
            if (stored is not null)
            {
                return Convert.FromHexString(stored);
            }

            db.ServerKeys.Add(NewKey(name));
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

    /// <summary>Replaces the key (or creates it): whatever was made with the old one no longer verifies.</summary>
    /// <returns>When the new key was made.</returns>
    public async Task<DateTime> RotateAsync(string name, CancellationToken cancellationToken)
    {
        var key = NewKey(name);
        await using var db = await database.OpenAsync(cancellationToken);
        var replaced = await db.ServerKeys.Where(k => k.Name == name)
            .ExecuteUpdateAsync(set => set.SetProperty(k => k.Value, key.Value).SetProperty(k => k.CreatedAt, key.CreatedAt), cancellationToken);
        if (replaced == 0)
        {
            db.ServerKeys.Add(key);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException e) when (DatabaseErrors.IsUniqueViolation(e))
            {
                // A server created the key meanwhile: replace that one.
                db.ChangeTracker.Clear();
                await db.ServerKeys.Where(k => k.Name == name)
                    .ExecuteUpdateAsync(set => set.SetProperty(k => k.Value, key.Value).SetProperty(k => k.CreatedAt, key.CreatedAt), cancellationToken);
            }
        }

        return key.CreatedAt;
    }

    private ServerKey NewKey(string name) =>
        new() { Name = name, Value = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)), CreatedAt = time.GetUtcNow().UtcDateTime };
}
