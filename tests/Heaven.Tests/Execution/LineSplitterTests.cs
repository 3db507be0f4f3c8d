using System.Text;
using Heaven.Execution;

namespace Heaven.Tests.Execution;

/// <summary>Bytes in, lines out, whatever sizes the reads of a pipe happen to have.</summary>
public sealed class LineSplitterTests
{
    [Fact]
    public void MultiByteCharacters_SplitAcrossReads_StayWhole()
    {
        var bytes = Encoding.UTF8.GetBytes("grüße 🚀 日本\n");

        Split(bytes, readSize: 1).ShouldBe(["grüße 🚀 日本"]);
    }

    [Fact]
    public void CrLf_IsOneLineEnd_EvenWhenTheReadEndsBetweenThem()
    {
        Split("one\r\ntwo\r\n"u8.ToArray(), readSize: 4).ShouldBe(["one", "two"]);
    }

    [Fact]
    public void ALoneCarriageReturn_StaysInTheLine()
    {
        Split("10%\r50%\r100%\n"u8.ToArray(), readSize: 3).ShouldBe(["10%\r50%\r100%"]);
    }

    [Fact]
    public void EmptyLines_AreKept()
    {
        Split("a\n\n\nb\n"u8.ToArray(), readSize: 2).ShouldBe(["a", "", "", "b"]);
    }

    [Fact]
    public void ALastLineWithoutNewline_IsEmittedAtTheEnd()
    {
        Split("first\nno newline"u8.ToArray(), readSize: 5).ShouldBe(["first", "no newline"]);
    }

    [Fact]
    public void AnIncompleteCharacterAtTheEnd_BecomesAReplacementCharacter()
    {
        Split([(byte)'o', (byte)'k', 0xE2, 0x82], readSize: 1).ShouldBe(["ok\uFFFD"]);
    }

    [Fact]
    public void InvalidBytes_BecomeReplacementCharacters()
    {
        Split([0x66, 0xFF, 0x6F, 0xC0, 0x0A], readSize: 2).ShouldBe(["f\uFFFDo\uFFFD"]);
    }

    [Fact]
    public void ALongLine_IsCutIntoPiecesOfTheBound()
    {
        var lines = Split(Encoding.UTF8.GetBytes(new string('x', 40) + "\nshort\n"), readSize: 7, maxLineLength: 16);

        lines.ShouldBe([new string('x', 16), new string('x', 16), new string('x', 8), "short"]);
    }

    [Fact]
    public void ALineOfExactlyTheBound_IsOneLine()
    {
        Split(Encoding.UTF8.GetBytes(new string('x', 16) + "\r\n"), readSize: 16, maxLineLength: 16).ShouldBe([new string('x', 16)]);
    }

    [Fact]
    public void ACutJustBeforeCrLf_AddsNoEmptyLine()
    {
        Split(Encoding.UTF8.GetBytes(new string('x', 32) + "\r\nnext\n"), readSize: 3, maxLineLength: 16)
            .ShouldBe([new string('x', 16), new string('x', 16), "next"]);
    }

    [Fact]
    public void ACut_NeverSeparatesTheHalvesOfASurrogatePair()
    {
        var lines = Split(Encoding.UTF8.GetBytes(new string('x', 15) + "🚀🚀\n"), readSize: 1, maxLineLength: 16);

        lines.ShouldBe([new string('x', 15), "🚀🚀"]);
        lines.ShouldAllBe(l => !char.IsHighSurrogate(l[l.Length - 1]));
    }

    private static List<string> Split(byte[] bytes, int readSize, int maxLineLength = 1024)
    {
        var splitter = new LineSplitter(maxLineLength);
        var lines = new List<string>();
        for (var offset = 0; offset < bytes.Length; offset += readSize)
        {
            splitter.Push(bytes.AsSpan(offset, Math.Min(readSize, bytes.Length - offset)), lines);
        }

        splitter.Finish(lines);
        return lines;
    }
}
