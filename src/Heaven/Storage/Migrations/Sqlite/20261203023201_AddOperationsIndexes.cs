using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Heaven.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class AddOperationsIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<byte[]>(
                name: "body",
                table: "deliveries",
                type: "BLOB",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "redelivery_of",
                table: "deliveries",
                type: "TEXT",
                maxLength: 128,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_deployments_git_hub_deployment_id",
                table: "deployments",
                column: "git_hub_deployment_id");

            migrationBuilder.CreateIndex(
                name: "ix_deployments_repository_environment_id",
                table: "deployments",
                columns: new[] { "repository", "environment", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_deployments_repository_environment_state_provider_id",
                table: "deployments",
                columns: new[] { "repository", "environment", "state", "provider", "id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_deployments_git_hub_deployment_id",
                table: "deployments");

            migrationBuilder.DropIndex(
                name: "ix_deployments_repository_environment_id",
                table: "deployments");

            migrationBuilder.DropIndex(
                name: "ix_deployments_repository_environment_state_provider_id",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "body",
                table: "deliveries");

            migrationBuilder.DropColumn(
                name: "redelivery_of",
                table: "deliveries");
        }
    }
}
