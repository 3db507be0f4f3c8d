using Heaven.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Heaven.Access;

/// <summary>What an API token may do. Each scope includes the ones below it.</summary>
public enum TokenScope
{
    /// <summary>Read deployments, logs, locks.</summary>
    Read = 1,

    /// <summary>Also deploy, cancel, lock and unlock, on every repository.</summary>
    Deploy = 2,

    /// <summary>Also manage tokens and redeliver webhooks.</summary>
    Admin = 3,
}

/// <summary>An API token as stored: its SHA-256 hash, never the token itself.</summary>
public sealed class ApiToken
{
    public long Id { get; set; }

    public required string Name { get; set; }

    /// <summary>Lower-case hex SHA-256 of the token text.</summary>
    public required string TokenHash { get; set; }

    public TokenScope Scope { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime? ExpiresAt { get; set; }

    public DateTime? LastUsedAt { get; set; }

    /// <summary>Who made it: a GitHub login, a token's name or the system user of <c>heaven tokens create</c>.</summary>
    public required string CreatedBy { get; set; }
}

/// <summary>How API tokens are stored (<c>api_tokens</c>).</summary>
internal sealed class ApiTokenTable : IEntityTypeConfiguration<ApiToken>
{
    public void Configure(EntityTypeBuilder<ApiToken> token)
    {
        token.ToTable("api_tokens");
        token.Property(t => t.Name).HasMaxLength(100);
        token.HasIndex(t => t.Name).IsUnique();
        token.Property(t => t.TokenHash).HasMaxLength(64);
        token.HasIndex(t => t.TokenHash).IsUnique();
        token.Property(t => t.Scope).HasConversion<string>().HasMaxLength(16);
        token.Property(t => t.CreatedBy).HasMaxLength(256);
    }
}

/// <summary><c>db.ApiTokens</c>.</summary>
internal static class ApiTokenSet
{
    extension(HeavenDbContext db)
    {
        public DbSet<ApiToken> ApiTokens => db.Set<ApiToken>();
    }
}
