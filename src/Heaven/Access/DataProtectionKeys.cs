using System.Xml.Linq;
using Heaven.Storage;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Heaven.Access;

/// <summary>One key of ASP.NET Core's data protection (sign-in cookies, antiforgery tokens), as XML.</summary>
public sealed class DataProtectionKeyRow
{
    public long Id { get; set; }

    public string? FriendlyName { get; set; }

    public required string Xml { get; set; }
}

internal sealed class DataProtectionKeyTable : IEntityTypeConfiguration<DataProtectionKeyRow>
{
    public void Configure(EntityTypeBuilder<DataProtectionKeyRow> key)
    {
        key.ToTable("data_protection_keys");
        key.Property(k => k.FriendlyName).HasMaxLength(256);
    }
}

/// <summary>
/// Keeps the data protection key ring in Heaven's database, so sign-ins and forms survive a restart and
/// work on every node sharing the database.
/// </summary>
/// <remarks>
/// Not Microsoft.AspNetCore.DataProtection.EntityFrameworkCore: it resolves a scoped DbContext that
/// implements its interface, while Heaven opens contexts through <see cref="IHeavenDatabase"/> for
/// whichever engine is configured, and Storage knows nothing of sign-in. This is the same table (a row
/// of XML per key) in ~20 lines. Like that package, keys are stored unencrypted: whoever reads the
/// database already holds Heaven's other server keys.
/// </remarks>
internal sealed class DatabaseXmlRepository(IServiceProvider services) : IXmlRepository
{
    // Resolved at first use: the pipeline is built (and this made) even when the database settings are wrong and the start will stop.
    private IHeavenDatabase Database => services.GetRequiredService<IHeavenDatabase>();

    // The key ring is read at start and about once a day; the interface is synchronous.
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var db = Database.OpenAsync(CancellationToken.None).GetAwaiter().GetResult();
        return db.Set<DataProtectionKeyRow>().AsNoTracking().OrderBy(k => k.Id).Select(k => k.Xml).ToList()
            .Select(xml => XElement.Parse(xml)).ToList();
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var db = Database.OpenAsync(CancellationToken.None).GetAwaiter().GetResult();
        db.Set<DataProtectionKeyRow>().Add(new DataProtectionKeyRow { FriendlyName = friendlyName, Xml = element.ToString(SaveOptions.DisableFormatting) });
        db.SaveChanges();
    }
}
