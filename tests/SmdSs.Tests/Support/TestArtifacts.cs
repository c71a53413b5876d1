namespace SmdSs.Tests.Support;

/// <summary>
/// Where tests leave files for people to look at (screenshots): <c>$SMDSS_TEST_ARTIFACTS/&lt;kind&gt;</c>,
/// or <c>TestResults/&lt;kind&gt;</c> in the test assembly's output folder.
/// </summary>
public static class TestArtifacts
{
    public const string DirectoryVariable = "SMDSS_TEST_ARTIFACTS";

    /// <summary>The folder for one kind of artifact, created if missing.</summary>
    public static string Directory(string kind)
    {
        string root = Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } configured
            ? configured
            : Path.Combine(AppContext.BaseDirectory, "TestResults");
        string directory = Path.GetFullPath(Path.Combine(root, kind));
        System.IO.Directory.CreateDirectory(directory);
        return directory;
    }
}
