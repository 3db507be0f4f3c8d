using System.Globalization;

namespace Heaven.Web;

/// <summary>
/// <c>&lt;time&gt;</c> elements that read "3 min ago" and show the exact UTC time on hover. The page
/// script (heaven.js, <c>relativeText</c>) computes the same text again every 30 s from the
/// <c>datetime</c> attribute, so both must agree: change one, change the other.
/// </summary>
public static class RelativeTime
{
    /// <summary>A <c>&lt;time&gt;</c> element for <paramref name="at"/>, worded as seen at <paramref name="now"/>.</summary>
    public static Html Tag(DateTimeOffset at, DateTimeOffset now)
    {
        var utc = at.ToUniversalTime();
        var machine = utc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        return Html.Of($"<time datetime=\"{machine}\" title=\"{Exact(utc)}\" data-relative>{Text(utc, now)}</time>");
    }

    /// <summary>The hover text: the exact time in UTC.</summary>
    public static string Exact(DateTimeOffset at) =>
        at.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>"just now", "3 min ago", "2 h ago", "1 day ago", "in 5 min"; past 30 days the UTC date.</summary>
    public static string Text(DateTimeOffset at, DateTimeOffset now)
    {
        var seconds = (long)Math.Floor((now - at).TotalSeconds);
        var distance = Math.Abs(seconds);
        string span;
        if (distance < 60)
        {
            return "just now";
        }
        else if (distance < 3600)
        {
            span = $"{distance / 60} min";
        }
        else if (distance < 86400)
        {
            span = $"{distance / 3600} h";
        }
        else if (distance < 30 * 86400)
        {
            var days = distance / 86400;
            span = days == 1 ? "1 day" : $"{days} days";
        }
        else
        {
            return at.ToUniversalTime().ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        }

        return seconds < 0 ? $"in {span}" : $"{span} ago";
    }
}
