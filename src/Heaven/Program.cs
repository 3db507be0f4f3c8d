using Heaven.Cli;

// Composition only: the command line decides what to run; HeavenApp wires the components.
return await HeavenCli.RunAsync(args, Console.Out, Console.Error);
