using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Heaven.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class AutoDeploy : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "auto_deploy_decisions",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    repository = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    sha = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    environment = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    outcome = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    reason = table.Column<string>(type: "TEXT", maxLength: 1024, nullable: false),
                    trigger = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    delivery_id = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    git_hub_deployment_id = table.Column<long>(type: "INTEGER", nullable: true),
                    decided_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    deploy_key = table.Column<string>(type: "TEXT", maxLength: 1100, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_auto_deploy_decisions", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_auto_deploy_decisions_claim",
                table: "auto_deploy_decisions",
                column: "deploy_key",
                unique: true,
                filter: "outcome IN ('Deploying', 'Deployed')");

            migrationBuilder.CreateIndex(
                name: "ix_auto_deploy_decisions_repository_id",
                table: "auto_deploy_decisions",
                columns: new[] { "repository", "id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "auto_deploy_decisions");
        }
    }
}
