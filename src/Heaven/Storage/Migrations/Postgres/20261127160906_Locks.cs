using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Heaven.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Locks : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTime>(
                name: "waiting_since",
                table: "deployments",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "environment_locks",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    repository = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    environment = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    lock_key = table.Column<string>(type: "character varying(1024)", maxLength: 1024, nullable: false),
                    app = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: true),
                    locked_by = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    reason = table.Column<string>(type: "character varying(512)", maxLength: 512, nullable: true),
                    locked_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    expires_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    git_hub_deployment_id = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_environment_locks", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_environment_locks_lock_key",
                table: "environment_locks",
                column: "lock_key",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "environment_locks");

            migrationBuilder.DropColumn(
                name: "waiting_since",
                table: "deployments");
        }
    }
}
