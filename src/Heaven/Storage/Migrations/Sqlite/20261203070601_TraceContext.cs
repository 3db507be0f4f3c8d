using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Heaven.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class TraceContext : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "trace_parent",
                table: "work_items",
                type: "TEXT",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "trace_parent",
                table: "deployments",
                type: "TEXT",
                maxLength: 64,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "trace_parent",
                table: "work_items");

            migrationBuilder.DropColumn(
                name: "trace_parent",
                table: "deployments");
        }
    }
}
