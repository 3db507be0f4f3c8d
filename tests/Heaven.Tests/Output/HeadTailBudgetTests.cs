using Heaven.Output;

namespace Heaven.Tests.Output;

/// <summary>The one "keep the head and the tail" rule that the stored log and the gist both follow.</summary>
public sealed class HeadTailBudgetTests
{
    [Fact]
    public void TheHead_TakesLinesWhileTheyFit_AndTheFirstThatDoesNotClosesItForGood()
    {
        var budget = new HeadTailBudget(101);

        (budget.HeadLimit, budget.TailLimit).ShouldBe((50L, 51L));
        budget.TryTakeIntoHead(30).ShouldBeTrue();
        budget.TryTakeIntoHead(20).ShouldBeTrue();
        budget.TryTakeIntoHead(1).ShouldBeFalse();
        budget.InHead.ShouldBeFalse();
        // A line small enough to fit still belongs to the tail: the head is never reopened.
        budget.TryTakeIntoHead(0).ShouldBeFalse();
        budget.HeadBytes.ShouldBe(50);
    }

    [Fact]
    public void TheTail_GivesUpWhatItHoldsBeyondItsHalf()
    {
        var budget = new HeadTailBudget(100);

        budget.TailExcess(0).ShouldBe(0);
        budget.TailExcess(50).ShouldBe(0);
        budget.TailExcess(75).ShouldBe(25);
    }

    [Fact]
    public void TheMarker_SaysWhatWasElided_WhatIsKept_AndWhereTheRestIs()
    {
        var budget = new HeadTailBudget(4 * 1024 * 1024);

        budget.Marker(1_234_567, 12_345, "the log").ShouldBe("[Heaven: 1,234,567 bytes (12,345 lines) of output elided here; the log keeps the first and last 2 MB]");
        budget.Marker(10, 1, "this gist", "https://heaven.example.com/deployments/42")
            .ShouldBe("[Heaven: 10 bytes (1 lines) of output elided here; this gist keeps the first and last 2 MB; the whole log: https://heaven.example.com/deployments/42]");
    }
}
