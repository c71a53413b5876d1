using SharpFuzz;
using SmdSs.Fuzz;

// Under afl-fuzz (tests/SmdSs.Fuzz/run.sh): one input per run from stdin, coverage of the
// instrumented SmdSs.Embedded.dll reported to the fuzzer. With file or folder arguments: replays
// each (a corpus, or a crash to reproduce), exiting non-zero on the first that escapes.
// With --seeds FOLDER: writes a valid input for every parser there.
if (args is ["--seeds", string folder])
{
    Directory.CreateDirectory(folder);
    foreach ((string name, byte[] input) in Seeds.All())
    {
        File.WriteAllBytes(Path.Combine(folder, name), input);
        _ = FuzzTargets.Run(input);
    }

    Console.WriteLine($"wrote the seeds to {folder}");
    return;
}

if (args.Length > 0)
{
    foreach (string path in args.SelectMany(a => Directory.Exists(a) ? Directory.EnumerateFiles(a) : [a]))
    {
        _ = FuzzTargets.Run(File.ReadAllBytes(path));
    }

    Console.WriteLine($"replayed {args.Length} path(s): no crash");
    return;
}

Fuzzer.OutOfProcess.Run(stream =>
{
    using var memory = new MemoryStream();
    stream.CopyTo(memory);
    _ = FuzzTargets.Run(memory.ToArray());
});
