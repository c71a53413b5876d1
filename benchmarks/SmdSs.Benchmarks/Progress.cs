using System.Globalization;

namespace SmdSs.Benchmarks;

/// <summary>Progress lines go to stderr, so stdout holds only the results.</summary>
internal static class Progress
{
    public static void Line(FormattableString line) => Console.Error.WriteLine(line.ToString(CultureInfo.InvariantCulture));

    public static void Line(string line) => Console.Error.WriteLine(line);
}
