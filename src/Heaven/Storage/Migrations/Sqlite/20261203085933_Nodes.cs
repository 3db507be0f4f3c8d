using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Heaven.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Nodes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "nodes",
                columns: table => new
                {
                    id = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    run_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    host_name = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    version = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    lease_seconds = table.Column<int>(type: "INTEGER", nullable: false),
                    started_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    heartbeat_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    stopping_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    stopped_at = table.Column<DateTime>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_nodes", x => x.id);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "nodes");
        }
    }
}
