using Heaven.Checkout;
using Heaven.Model;

namespace Heaven.Tests.Checkout;

public sealed class RefNameTests
{
    // The original Heaven's cases (spec/lib/heaven/provider/default_provider_spec.rb), then git's
    // check-ref-format rules one by one, then what a shell would make of a ref.
    [Theory]
    [InlineData("master")]
    [InlineData("dev/feature")]
    [InlineData("1a2b3c4")]
    [InlineData("1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d")]
    [InlineData("my_awesome-branch")]
    [InlineData("some.feature")]
    [InlineData("feature/foo")]
    [InlineData("v1.0.0")]
    [InlineData("heroku")]
    [InlineData("refs/heads/x")]
    [InlineData("refs/tags/v1.2.3")]
    [InlineData("release/2024-01-01+hotfix")]
    [InlineData("foo@bar")]
    public void ValidRefs_AreAccepted(string name)
    {
        RefName.Problem(name).ShouldBeNull();
        RefName.IsValid(name).ShouldBeTrue();
    }

    [Theory]
    [InlineData("dev/.branch", "its component '.branch' starts with '.'")]
    [InlineData("dev branch", "it contains a space")]
    [InlineData("dev..branch", "it contains '..', git's range syntax")]
    [InlineData("branch/", "it ends with '/'")]
    [InlineData("devbranch.", "it ends with '.'")]
    [InlineData("devbranch.lock", "its component 'devbranch.lock' ends with '.lock'")]
    [InlineData("dev@{branch", "it contains '@{', git's reflog syntax")]
    [InlineData("dev\\branch", "it contains '\\', which git does not allow in ref names")]
    [InlineData("", "it is empty")]
    [InlineData("foo bar", "it contains a space")]
    [InlineData("foo..bar", "it contains '..', git's range syntax")]
    [InlineData("foo~1", "it contains '~', which git does not allow in ref names")]
    [InlineData("foo^", "it contains '^', which git does not allow in ref names")]
    [InlineData("foo:bar", "it contains ':', which git does not allow in ref names")]
    [InlineData("foo?", "it contains '?', which git does not allow in ref names")]
    [InlineData("foo*", "it contains '*', which git does not allow in ref names")]
    [InlineData("foo[", "it contains '[', which git does not allow in ref names")]
    [InlineData("foo\\bar", "it contains '\\', which git does not allow in ref names")]
    [InlineData("foo/", "it ends with '/'")]
    [InlineData("foo.lock", "its component 'foo.lock' ends with '.lock'")]
    [InlineData("refs/heads/foo.lock/bar", "its component 'foo.lock' ends with '.lock'")]
    [InlineData("/foo", "it starts with '/'")]
    [InlineData(".foo", "its component '.foo' starts with '.'")]
    [InlineData("foo//bar", "it contains '//'")]
    [InlineData("@", "'@' alone is git's name for HEAD")]
    [InlineData("foo@{1}", "it contains '@{', git's reflog syntax")]
    [InlineData("-foo", "it starts with '-'")]
    [InlineData("--upload-pack=touch", "it starts with '-'")]
    [InlineData("$(reboot)", "it contains '$', which a shell would interpret")]
    [InlineData("foo;rm -rf /", "it contains ';', which a shell would interpret")]
    [InlineData("foo;rm", "it contains ';', which a shell would interpret")]
    [InlineData("`id`", "it contains '`', which a shell would interpret")]
    [InlineData("a|b", "it contains '|', which a shell would interpret")]
    [InlineData("a&&b", "it contains '&', which a shell would interpret")]
    [InlineData("a>b", "it contains '>', which a shell would interpret")]
    [InlineData("it's", "it contains ''', which a shell would interpret")]
    [InlineData("foo\nbar", "it contains a control character")]
    [InlineData("foo\tbar", "it contains a control character")]
    [InlineData("foo\u007fbar", "it contains a control character")]
    [InlineData("caf\u00e9", "it contains a character outside printable ASCII")]
    [InlineData("\u202eevil", "it contains a character outside printable ASCII")]
    public void InvalidRefs_AreRefusedWithTheReason(string name, string reason)
    {
        RefName.Problem(name).ShouldBe(reason);
        RefName.IsValid(name).ShouldBeFalse();
    }

    [Fact]
    public void ARefLongerThan255Characters_IsRefused()
    {
        RefName.Problem(new string('a', 255)).ShouldBeNull();
        RefName.Problem(new string('a', 256)).ShouldBe("it is longer than 255 characters");
    }

    [Fact]
    public void NoRef_IsEmpty() => RefName.Problem(null).ShouldBe("it is empty");

    [Theory]
    [InlineData("master", "'master'")]
    [InlineData("foo\nbar", "'foo\\u000abar'")]
    [InlineData("it's", "'it\\'s'")]
    [InlineData("a\\b", "'a\\\\b'")]
    [InlineData("\u202eevil", "'\\u202eevil'")]
    [InlineData(null, "(none)")]
    public void Quote_ShowsAnyValueOnOneSafeLine(string? value, string quoted) => RefName.Quote(value).ShouldBe(quoted);

    [Fact]
    public void Quote_CutsLongValues() => RefName.Quote(new string('x', 100)).ShouldBe("'" + new string('x', 60) + "…'");
}

public sealed class CommitShaTests
{
    [Theory]
    [InlineData("1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d", "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d")]
    [InlineData("1A2B3C4D5E6F7A8B9C0D1A2B3C4D5E6F7A8B9C0D", "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d")]
    public void FortyHexCharacters_AreACommitInLowercase(string value, string expected)
    {
        CommitSha.TryNormalize(value, out var sha).ShouldBeTrue();
        sha.ShouldBe(expected);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("1a2b3c4")]
    [InlineData("1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0")]
    [InlineData("1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d0")]
    [InlineData("1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0g")]
    [InlineData("master")]
    [InlineData(" 1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d")]
    [InlineData("-1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0")]
    public void AnythingElse_IsNotACommit(string? value) => CommitSha.TryNormalize(value, out _).ShouldBeFalse();
}

public sealed class CloneSourceTests
{
    [Theory]
    [InlineData("https://github.com/atmos/heaven.git", "https", "github.com", "https://github.com/")]
    [InlineData("https://GitHub.example.com:8443/atmos/heaven.git", "https", "github.example.com", "https://github.example.com:8443/")]
    [InlineData("http://127.0.0.1:3000/a/b.git", "http", "127.0.0.1", "http://127.0.0.1:3000/")]
    [InlineData("ssh://git@github.com/atmos/heaven.git", "ssh", "github.com", "ssh://github.com/")]
    [InlineData("git://github.com/atmos/heaven.git", "git", "github.com", "git://github.com/")]
    [InlineData("file:///srv/git/heaven.git", "file", "", "file:///")]
    [InlineData("https://[::1]:8443/a/b.git", "https", "[::1]", "https://[::1]:8443/")]
    [InlineData("git@github.com:atmos/heaven.git", "ssh", "github.com", "ssh://github.com/")]
    [InlineData("deploy@git.example.com:/srv/git/app.git", "ssh", "git.example.com", "ssh://git.example.com/")]
    public void CloneUrlsGitHubAndGitServersUse_AreAccepted(string url, string scheme, string host, string scope)
    {
        CloneSource.TryParse(url, out var source, out var problem).ShouldBeTrue(problem);
        source!.Scheme.ShouldBe(scheme);
        source.Host.ShouldBe(host);
        source.ConfigScope.ShouldBe(scope);
        source.Url.ShouldBe(url);
    }

    [Theory]
    [InlineData(null, "it is empty")]
    [InlineData("-uhack", "it is not a URL starting with https://, http://, ssh://, git:// or file://, nor user@host:path")]
    [InlineData("--upload-pack=touch /tmp/pwned", "it contains whitespace, a control character, a backslash or a non-ASCII character")]
    [InlineData("--upload-pack=touch", "it is not a URL starting with https://, http://, ssh://, git:// or file://, nor user@host:path")]
    [InlineData("git@-oProxyCommand=touch:a/b.git", "its host has characters a host name cannot have")]
    [InlineData("git@github.com:-upload-pack=touch", "it names no repository path")]
    [InlineData("-git@github.com:a/b.git", "its user name has unusual characters")]
    [InlineData("github.com:atmos/heaven.git", "it is not a URL starting with https://, http://, ssh://, git:// or file://, nor user@host:path")]
    [InlineData("ext::sh -c touch% /tmp/pwned", "it contains whitespace, a control character, a backslash or a non-ASCII character")]
    [InlineData("ext::sh", "it is not a URL starting with https://, http://, ssh://, git:// or file://, nor user@host:path")]
    [InlineData("fd::17", "it is not a URL starting with https://, http://, ssh://, git:// or file://, nor user@host:path")]
    [InlineData("ftp://example.com/a.git", "its scheme 'ftp' is not one of https, http, ssh, git or file")]
    [InlineData("https://x-access-token:ghs_secret@github.com/a/b.git", "it carries user information; credentials do not belong in a clone URL (set GitHub:Token instead)")]
    [InlineData("https://ghs_secret@github.com/a/b.git", "it carries user information; credentials do not belong in a clone URL (set GitHub:Token instead)")]
    [InlineData("ssh://git:hunter2@github.com/a/b.git", "its user name is empty, carries a password or has unusual characters")]
    [InlineData("ssh://-oProxyCommand=touch/a/b.git", "its host has characters a host name cannot have")]
    [InlineData("https://github.com\\@evil.com/a.git", "it contains whitespace, a control character, a backslash or a non-ASCII character")]
    [InlineData("https://github.com/a.git?x=1", "it has a query or a fragment")]
    [InlineData("https://github.com:0/a.git", "its port is not a number from 1 to 65535")]
    [InlineData("https://github.com", "it names no repository path")]
    [InlineData("https:///a.git", "it names no host")]
    [InlineData("file://server/share/a.git", "a file:// URL must not name a host")]
    public void OtherCloneUrls_AreRefusedWithTheReason(string? url, string reason)
    {
        CloneSource.TryParse(url, out var source, out var problem).ShouldBeFalse();
        source.ShouldBeNull();
        problem.ShouldBe(reason);
    }
}
