using SmdSs.Fuzz;

namespace SmdSs.Tests.Security;

/// <summary>
/// The fuzzing corpus (tests/SmdSs.Fuzz/corpus: the seeds and what afl-fuzz found) and every
/// crash it ever found (tests/SmdSs.Fuzz/crashes, once fixed) replayed through the same targets
/// on every build: no input escapes its parser with anything but the documented refusal.
/// </summary>
public sealed class FuzzCorpusTests
{
    [Fact]
    public void Every_corpus_entry_and_every_crash_found_is_parsed_or_refused_as_documented()
    {
        string fuzz = Path.Combine(RepositoryRoot(), "tests", "SmdSs.Fuzz");
        List<string> inputs = [.. new[] { "corpus", "crashes" }
            .Select(folder => Path.Combine(fuzz, folder))
            .Where(Directory.Exists)
            .SelectMany(Directory.EnumerateFiles)];
        Assert.True(inputs.Count >= 20, $"the corpus holds {inputs.Count} inputs");
        Assert.Equal(FuzzTargets.Count, inputs.Select(i => File.ReadAllBytes(i).FirstOrDefault() % FuzzTargets.Count).Distinct().Count());

        foreach (string input in inputs)
        {
            try
            {
                _ = FuzzTargets.Run(File.ReadAllBytes(input));
            }
            catch (Exception ex)
            {
                Assert.Fail($"{Path.GetFileName(input)} escaped its parser: {ex}");
            }
        }
    }

    [Fact]
    public void Every_seed_is_a_valid_input_that_its_parser_takes_whole()
    {
        foreach ((string name, byte[] input) in Seeds.All())
        {
            Assert.True(FuzzTargets.Run(input), $"seed {name} was refused: the fuzzer would start from the parser's first check only");
        }
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "SmdSs.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new DirectoryNotFoundException("SmdSs.sln above " + AppContext.BaseDirectory);
    }
}
