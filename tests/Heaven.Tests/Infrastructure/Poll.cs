using System.Diagnostics;
using System.Globalization;

namespace Heaven.Tests.Infrastructure;

/// <summary>
/// The one way the tests wait for something that happens on its own (a background service, another
/// process, a fake server): look, and look again, until it holds or the time budget is spent. On
/// timeout it fails saying what it waited for, for how long, and what it saw last.
/// </summary>
/// <remarks>
/// A wait only ever ends early when its condition holds, so a generous budget costs nothing when the
/// test passes: budgets are sized for a loaded machine (2 busy cores), not for a quiet one. Never use
/// this to wait for something NOT to happen; wait for a signal that it can no longer happen instead
/// (the consumer went back to sleep, a fake clock's timer is still pending, a final state is stored).
/// </remarks>
public static class Poll
{
    /// <summary>The budget when a wait names none: far longer than any of these waits takes on a loaded machine.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan FirstInterval = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LongestInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>Waits until <paramref name="condition"/> holds.</summary>
    /// <param name="what">What is awaited, for the failure message ("the deploy to reach the server").</param>
    /// <param name="state">Called once on timeout: what the test saw, for the failure message.</param>
    public static Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null, Func<string>? state = null) =>
        UntilAsync(() => Task.FromResult(condition()), what, timeout, state is null ? null : () => Task.FromResult(state()));

    /// <summary>Waits until <paramref name="condition"/> holds.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null, Func<Task<string>>? state = null)
    {
        await ForAsync(condition, held => held, what, timeout, state is null ? null : async _ => await state());
    }

    /// <summary>Reads <paramref name="read"/> until <paramref name="done"/> holds for what it read; returns that.</summary>
    /// <param name="describe">On timeout: the last value read, for the failure message.</param>
    public static Task<T> ForAsync<T>(Func<T> read, Func<T, bool> done, string what, TimeSpan? timeout = null, Func<T, string>? describe = null) =>
        ForAsync(() => Task.FromResult(read()), done, what, timeout, describe is null ? null : value => Task.FromResult(describe(value)));

    /// <summary>Reads <paramref name="read"/> until <paramref name="done"/> holds for what it read; returns that.</summary>
    public static Task<T> ForAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what, TimeSpan? timeout = null, Func<T, string>? describe = null) =>
        ForAsync(read, done, what, timeout, describe is null ? null : value => Task.FromResult(describe(value)));

    private static async Task<T> ForAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what, TimeSpan? timeout, Func<T, Task<string>>? describe)
    {
        var budget = timeout ?? DefaultTimeout;
        var watch = Stopwatch.StartNew();
        var interval = FirstInterval;
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }

            if (watch.Elapsed > budget)
            {
                var seen = describe is null ? "" : "\n" + await describe(value);
                throw new TimeoutException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"Gave up after {watch.Elapsed.TotalSeconds:0.#} s (budget {budget.TotalSeconds:0.#} s) waiting for {what}.{seen}"));
            }

            await Task.Delay(interval);
            interval = interval * 2 < LongestInterval ? interval * 2 : LongestInterval;
        }
    }

    /// <summary>Waits for a signal (a task the code under test completes), failing with <paramref name="what"/> when it does not come in time.</summary>
    public static async Task SignalAsync(Task signal, string what, TimeSpan? timeout = null, Func<string>? state = null)
    {
        var budget = timeout ?? DefaultTimeout;
        try
        {
            await signal.WaitAsync(budget);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException(string.Create(
                CultureInfo.InvariantCulture,
                $"Gave up after {budget.TotalSeconds:0.#} s waiting for {what}.{(state is null ? "" : "\n" + state())}"));
        }
    }

    /// <summary>As <see cref="SignalAsync(Task, string, TimeSpan?, Func{string}?)"/>, returning the signal's value.</summary>
    public static async Task<T> SignalAsync<T>(Task<T> signal, string what, TimeSpan? timeout = null, Func<string>? state = null)
    {
        await SignalAsync((Task)signal, what, timeout, state);
        return await signal;
    }
}
