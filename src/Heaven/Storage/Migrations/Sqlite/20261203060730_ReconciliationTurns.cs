using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Heaven.Storage.Migrations.Sqlite
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
                    repository = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    last_pass_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    node = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false)
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
