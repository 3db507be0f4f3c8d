// The tests use real bash, git and Unix file modes, as Heaven does in production.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
