using System.Text;
using System.Text.RegularExpressions;
using Heaven.Checkout;
using Heaven.Model;

namespace Heaven.Providers;

/// <summary>A template or a value that cannot make a command; the message is safe to show (values are quoted and cut).</summary>
public sealed class ArgumentTemplateException(string message) : Exception(message);

/// <summary>
/// A command line an operator configured (<c>fab %{task} --environment=%{environment}</c>), turned into
/// an argument vector for <see cref="Execution.IProcessRunner"/> without a shell ever seeing it.
/// </summary>
/// <remarks>
/// The template is split into arguments first, shell-like: whitespace separates, single and double
/// quotes group (and are removed), nothing is expanded — no variables, no globs, no <c>~</c>, no
/// backslash escapes. Only then are placeholders substituted, each inside the one argument it was
/// written in, so a payload value can never add an argument, become shell syntax, or (at the start
/// of an argument) be read as an option. Values are checked against what each placeholder may hold.
/// </remarks>
public sealed partial class ArgumentTemplate
{
    /// <summary>The placeholders a template may use, <c>%{name}</c>.</summary>
    public static readonly IReadOnlyList<string> Placeholders = ["environment", "task", "ref", "sha", "repository", "app"];

    /// <summary>Longer values are refused: nothing legitimate needs more, and messages stay short.</summary>
    private const int MaxValueLength = 255;

    // Unquoted, these would mean something to a shell; here they would reach the program as text,
    // which is never what the operator meant. Quoted, they are taken literally.
    private const string ShellOperators = ";|&<>`$\\(){}*?[]~#";

    private readonly Part[][] arguments;

    private ArgumentTemplate(string text, Part[][] arguments)
    {
        Text = text;
        this.arguments = arguments;
        Used = arguments.SelectMany(a => a).OfType<Placeholder>().Select(p => p.Name).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>The template as configured.</summary>
    public string Text { get; }

    /// <summary>The placeholders this template uses.</summary>
    public IReadOnlyList<string> Used { get; }

    /// <exception cref="ArgumentTemplateException">unbalanced quotes, an unknown placeholder, shell syntax, no program.</exception>
    public static ArgumentTemplate Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new ArgumentTemplateException("the command is empty");
        }

        var arguments = new List<Part[]>();
        var current = new List<Part>();
        var literal = new StringBuilder();
        var inArgument = false;

        void EndLiteral()
        {
            if (literal.Length > 0)
            {
                current.AddRange(SplitPlaceholders(literal.ToString()));
                literal.Clear();
            }
        }

        void EndArgument()
        {
            EndLiteral();
            if (inArgument)
            {
                arguments.Add([.. current]);
            }

            current.Clear();
            inArgument = false;
        }

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c))
            {
                EndArgument();
                continue;
            }

            inArgument = true;
            if (c is '\'' or '"')
            {
                var end = text.IndexOf(c, i + 1);
                if (end < 0)
                {
                    throw new ArgumentTemplateException($"the command has an unbalanced {(c == '\'' ? "single" : "double")} quote");
                }

                literal.Append(text, i + 1, end - i - 1);
                i = end;
                continue;
            }

            if (c == '%' && i + 1 < text.Length && text[i + 1] == '{')
            {
                // Braces of a placeholder are not shell syntax: copy it whole, it is checked when split.
                var end = text.IndexOf('}', i);
                if (end < 0)
                {
                    throw new ArgumentTemplateException("the command has a '%{' without its closing '}'");
                }

                literal.Append(text, i, end - i + 1);
                i = end;
                continue;
            }

            if (ShellOperators.Contains(c))
            {
                throw new ArgumentTemplateException(
                    $"the command contains '{c}' outside quotes; it is not run by a shell, so '{c}' would reach the program as text (quote it if that is meant)");
            }

            literal.Append(c);
        }

        EndArgument();
        if (arguments.Count == 0)
        {
            throw new ArgumentTemplateException("the command is empty");
        }

        if (arguments[0].Any(p => p is Placeholder) || arguments[0].Length == 0)
        {
            throw new ArgumentTemplateException("the program (the first word of the command) must be written out; a placeholder cannot choose it");
        }

        return new ArgumentTemplate(text, [.. arguments]);
    }

    /// <summary>Why <paramref name="text"/> is not a valid template, or null.</summary>
    public static string? Problem(string? text)
    {
        try
        {
            Parse(text);
            return null;
        }
        catch (ArgumentTemplateException e)
        {
            return e.Message;
        }
    }

    /// <summary>The argument vector (program first) with every placeholder replaced by its checked value.</summary>
    /// <param name="values">By placeholder name; only the placeholders the template uses need a value.</param>
    /// <exception cref="ArgumentTemplateException">a value is missing, not acceptable, or would start an argument with '-'.</exception>
    public IReadOnlyList<string> Expand(IReadOnlyDictionary<string, string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var result = new List<string>(arguments.Length);
        foreach (var argument in arguments)
        {
            var text = new StringBuilder();
            foreach (var part in argument)
            {
                switch (part)
                {
                    case Literal literal:
                        text.Append(literal.Text);
                        break;
                    case Placeholder placeholder:
                        if (!values.TryGetValue(placeholder.Name, out var value))
                        {
                            throw new ArgumentTemplateException($"no value for %{{{placeholder.Name}}}");
                        }

                        if (ValueProblem(placeholder.Name, value) is { } problem)
                        {
                            throw new ArgumentTemplateException($"{placeholder.Name} {RefName.Quote(value)} cannot be used in the command: {problem}");
                        }

                        if (text.Length == 0 && value.StartsWith('-'))
                        {
                            // At the start of an argument the program would read it as an option.
                            throw new ArgumentTemplateException($"{placeholder.Name} {RefName.Quote(value)} cannot be used in the command: it would start an argument with '-'");
                        }

                        text.Append(value);
                        break;
                }
            }

            result.Add(text.ToString());
        }

        return result;
    }

    /// <summary>The values of a deployment for every placeholder; <paramref name="task"/> is the task as the tool names it.</summary>
    public static Dictionary<string, string> ValuesOf(DeploymentRecord deployment, string task)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["environment"] = deployment.Environment,
            ["task"] = task,
            ["ref"] = deployment.Ref,
            ["sha"] = deployment.Sha,
            ["repository"] = deployment.Repository,
            ["app"] = deployment.App,
        };
    }

    /// <summary>What a value may hold, by placeholder; null when it is acceptable.</summary>
    internal static string? ValueProblem(string name, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "it is empty";
        }

        if (value.Length > MaxValueLength)
        {
            return $"it is longer than {MaxValueLength} characters";
        }

        return name switch
        {
            "ref" => RefName.Problem(value),
            "sha" => CommitSha.TryNormalize(value, out _) ? null : "a commit is named by 40 hexadecimal characters",
            "repository" => RepositoryName.TryParse(value, out _, out var problem) ? null : problem,
            _ => SafeWord().IsMatch(value) ? null : "it may only hold letters, digits and - _ . : /",
        };
    }

    private static IEnumerable<Part> SplitPlaceholders(string text)
    {
        var position = 0;
        foreach (Match match in PlaceholderPattern().Matches(text))
        {
            if (match.Index > position)
            {
                yield return new Literal(text[position..match.Index]);
            }

            var name = match.Groups[1].Value;
            if (!Placeholders.Contains(name))
            {
                throw new ArgumentTemplateException($"the command uses the unknown placeholder %{{{name}}} (known: {string.Join(", ", Placeholders.Select(p => $"%{{{p}}}"))})");
            }

            yield return new Placeholder(name);
            position = match.Index + match.Length;
        }

        if (position < text.Length)
        {
            var rest = text[position..];
            if (rest.Contains("%{", StringComparison.Ordinal))
            {
                throw new ArgumentTemplateException("the command has a malformed placeholder; placeholders look like %{environment}");
            }

            yield return new Literal(rest);
        }
    }

    // What survives any quoting and any option parser as one plain word.
    [GeneratedRegex("^[A-Za-z0-9_.:/-]+$")]
    private static partial Regex SafeWord();

    [GeneratedRegex(@"%\{([^{}]*)\}")]
    private static partial Regex PlaceholderPattern();

    private abstract record Part;

    private sealed record Literal(string Text) : Part;

    private sealed record Placeholder(string Name) : Part;
}
