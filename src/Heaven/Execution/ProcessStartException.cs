namespace Heaven.Execution;

/// <summary>
/// The program could not be started (not found, not executable, no such working directory). The
/// message names the program and never includes the environment, which holds deploy secrets.
/// </summary>
public sealed class ProcessStartException(string message, Exception? inner = null) : Exception(message, inner);
