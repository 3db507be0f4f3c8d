using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Heaven.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class RepositoryTurns : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_deployments_repository_started_at",
                table: "deployments",
                columns: new[] { "repository", "started_at" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_deployments_repository_started_at",
                table: "deployments");
        }
    }
}
