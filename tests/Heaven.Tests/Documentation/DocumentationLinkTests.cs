using System.Text.RegularExpressions;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Documentation;

/// <summary>
/// The README and docs/ point at each other (each fact lives in one place): a link to a page or a
/// section that moved or was renamed must fail here, not in front of a reader.
/// </summary>
public sealed partial class DocumentationLinkTests
{
    [Fact]
    public void EveryRelativeLink_PointsAtAnExistingPageAndSection()
    {
        var pages = Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "docs"), "*.md")
            .Append(Path.Combine(RepositoryRoot.Path, "README.md"))
            .ToList();
        pages.Count.ShouldBeGreaterThan(10);
        var broken = new List<string>();

        foreach (var page in pages)
        {
            foreach (Match link in LinkPattern().Matches(WithoutCodeBlocks(File.ReadAllText(page))))
            {
                var target = link.Groups[1].Value;
                if (target.StartsWith("http", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal))
                {
                    continue;
                }

                var hash = target.IndexOf('#', StringComparison.Ordinal);
                var file = hash < 0 ? target : target[..hash];
                var anchor = hash < 0 ? null : target[(hash + 1)..];
                var path = file.Length == 0 ? page : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, file));
                var name = Path.GetRelativePath(RepositoryRoot.Path, page);
                if (!File.Exists(path) && !Directory.Exists(path))
                {
                    broken.Add($"{name}: {target} (no such file)");
                }
                else if (anchor is not null && path.EndsWith(".md", StringComparison.Ordinal) && !Anchors(path).Contains(anchor))
                {
                    broken.Add($"{name}: {target} (no such section)");
                }
            }
        }

        broken.ShouldBeEmpty(string.Join("\n", broken));
    }

    /// <summary>The anchors GitHub makes of a page's headings: lower case, punctuation dropped, spaces as hyphens.</summary>
    private static HashSet<string> Anchors(string page) =>
        HeadingPattern().Matches(WithoutCodeBlocks(File.ReadAllText(page)))
            .Select(m => NotInAnchor().Replace(m.Groups[1].Value.Trim().ToLowerInvariant(), string.Empty).Replace(' ', '-'))
            .ToHashSet(StringComparer.Ordinal);

    private static string WithoutCodeBlocks(string markdown) => CodeBlock().Replace(markdown, string.Empty);

    [GeneratedRegex(@"\]\(([^)\s]+)\)")]
    private static partial Regex LinkPattern();

    [GeneratedRegex(@"^#+ (.*)$", RegexOptions.Multiline)]
    private static partial Regex HeadingPattern();

    [GeneratedRegex(@"[^\w\- ]")]
    private static partial Regex NotInAnchor();

    [GeneratedRegex(@"^```.*?^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CodeBlock();
}
