using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Heaven.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ReconciliationTurns : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "reconciliation_turns",
                columns: table => new
                {
                    repository = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    last_pass_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    node = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_reconciliation_turns", x => x.repository);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "reconciliation_turns");
        }
    }
}
