using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Heaven.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class DeployEngine : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTime>(
                name: "completed_at",
                table: "work_items",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "deployment_id",
                table: "work_items",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "app",
                table: "deployments",
                type: "TEXT",
                maxLength: 256,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<DateTime>(
                name: "cancel_requested_at",
                table: "deployments",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "cancel_requested_by",
                table: "deployments",
                type: "TEXT",
                maxLength: 256,
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "finished_at",
                table: "deployments",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "gist_id",
                table: "deployments",
                type: "TEXT",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "gist_url",
                table: "deployments",
                type: "TEXT",
                maxLength: 512,
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "lease_expires_at",
                table: "deployments",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "lease_generation",
                table: "deployments",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<string>(
                name: "lease_owner",
                table: "deployments",
                type: "TEXT",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "lock_key",
                table: "deployments",
                type: "TEXT",
                maxLength: 1024,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "provider",
                table: "deployments",
                type: "TEXT",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "started_at",
                table: "deployments",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "status_description",
                table: "deployments",
                type: "TEXT",
                maxLength: 512,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "deployment_log_chunks",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    deployment_id = table.Column<long>(type: "INTEGER", nullable: false),
                    sequence = table.Column<int>(type: "INTEGER", nullable: false),
                    first_line = table.Column<long>(type: "INTEGER", nullable: false),
                    line_count = table.Column<int>(type: "INTEGER", nullable: false),
                    content = table.Column<string>(type: "TEXT", nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_deployment_log_chunks", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "server_keys",
                columns: table => new
                {
                    name = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    value = table.Column<string>(type: "TEXT", maxLength: 512, nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_server_keys", x => x.name);
                });

            migrationBuilder.CreateIndex(
                name: "ix_work_items_deployment_id_id",
                table: "work_items",
                columns: new[] { "deployment_id", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_deployments_running_lock_key",
                table: "deployments",
                column: "lock_key",
                unique: true,
                filter: "state = 'Running'");

            migrationBuilder.CreateIndex(
                name: "ix_deployment_log_chunks_deployment_id_sequence",
                table: "deployment_log_chunks",
                columns: new[] { "deployment_id", "sequence" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "deployment_log_chunks");

            migrationBuilder.DropTable(
                name: "server_keys");

            migrationBuilder.DropIndex(
                name: "ix_work_items_deployment_id_id",
                table: "work_items");

            migrationBuilder.DropIndex(
                name: "ix_deployments_running_lock_key",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "completed_at",
                table: "work_items");

            migrationBuilder.DropColumn(
                name: "deployment_id",
                table: "work_items");

            migrationBuilder.DropColumn(
                name: "app",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "cancel_requested_at",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "cancel_requested_by",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "finished_at",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "gist_id",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "gist_url",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "lease_expires_at",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "lease_generation",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "lease_owner",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "lock_key",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "provider",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "started_at",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "status_description",
                table: "deployments");
        }
    }
}
