using Heaven.Web;

namespace Heaven.Tests.Web;

public sealed class HtmlTests
{
    [Fact]
    public void Every_hole_is_encoded_and_the_written_markup_is_kept()
    {
        var refName = "<script>alert(1)</script>";
        var message = "\"quoted\" & 'single'";

        var html = Html.Of($"<td title=\"{message}\">{refName}</td>");

        html.ToString().ShouldBe("<td title=\"&quot;quoted&quot; &amp; &#x27;single&#x27;\">&lt;script&gt;alert(1)&lt;/script&gt;</td>");
    }

    [Fact]
    public void Markup_already_made_is_not_encoded_twice_and_lists_of_it_are_joined()
    {
        var cells = new List<Html> { Html.Of($"<td>{"a<b"}</td>"), Html.Text("c&d") };

        Html.Of($"<tr>{cells}</tr>").ToString().ShouldBe("<tr><td>a&lt;b</td>c&amp;d</tr>");
    }

    [Fact]
    public void Text_outside_ascii_stays_readable_and_numbers_are_written_the_same_everywhere()
    {
        Html.Of($"<p>{"Zürich → 東京"} {1234.5}</p>").ToString().ShouldBe("<p>Zürich → 東京 1234.5</p>");
    }

    [Theory]
    [InlineData("/deployments/5", "/deployments/5")]
    [InlineData("https://github.com/o/r/commit/abc", "https://github.com/o/r/commit/abc")]
    [InlineData("/search?q=a&b=\"c\"", "/search?q=a&amp;b=&quot;c&quot;")]
    [InlineData("javascript:alert(1)", "#")]
    [InlineData("JaVaScRiPt:alert(1)", "#")]
    [InlineData("data:text/html,<script>", "#")]
    [InlineData("//evil.example/x", "#")]
    [InlineData("/\\evil.example/x", "#")]
    [InlineData("", "#")]
    public void A_link_target_is_a_local_path_or_a_web_address(string url, string written)
    {
        Html.Url(url).ToString().ShouldBe(written);
    }
}

public sealed class RelativeTimeTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(0, "just now")]
    [InlineData(59, "just now")]
    [InlineData(-30, "just now")]
    [InlineData(60, "1 min ago")]
    [InlineData(3 * 60 + 59, "3 min ago")]
    [InlineData(2 * 3600, "2 h ago")]
    [InlineData(86400, "1 day ago")]
    [InlineData(3 * 86400, "3 days ago")]
    [InlineData(-5 * 60, "in 5 min")]
    [InlineData(40 * 86400, "2026-01-20")]
    public void Reads_like_a_person_would_say_it(int secondsAgo, string text)
    {
        RelativeTime.Text(Now.AddSeconds(-secondsAgo), Now).ShouldBe(text);
    }

    [Fact]
    public void The_tag_carries_the_machine_time_and_the_exact_utc_time_to_hover()
    {
        var at = new DateTimeOffset(2026, 3, 1, 13, 57, 0, TimeSpan.FromHours(2));

        RelativeTime.Tag(at, Now).ToString()
            .ShouldBe("<time datetime=\"2026-03-01T11:57:00Z\" title=\"2026-03-01 11:57:00 UTC\" data-relative>3 min ago</time>");
    }
}
