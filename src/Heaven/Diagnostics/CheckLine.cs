namespace Heaven.Diagnostics;

/// <summary>How one check of an installation came out.</summary>
public enum CheckResult
{
    /// <summary>As it should be.</summary>
    Ok,

    /// <summary>Worth knowing, not wrong: a quiet repository, a tool only some deployments need.</summary>
    Note,

    /// <summary>Wrong; the text says what to do.</summary>
    Fail,
}

/// <summary>One line of <c>heaven doctor</c>: what was checked, how it came out, and what was found or what to do.</summary>
public sealed record CheckLine(CheckResult Result, string Subject, string Text)
{
    public static CheckLine Ok(string subject, string text) => new(CheckResult.Ok, subject, text);

    public static CheckLine Note(string subject, string text) => new(CheckResult.Note, subject, text);

    public static CheckLine Fail(string subject, string text) => new(CheckResult.Fail, subject, text);

    public override string ToString() => $"{Result switch { CheckResult.Ok => "ok  ", CheckResult.Note => "note", _ => "FAIL" }}  {Subject}: {Text}";
}
