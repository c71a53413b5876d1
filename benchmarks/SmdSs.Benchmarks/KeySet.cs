using System.Globalization;

namespace SmdSs.Benchmarks;

/// <summary>Keys built once up front, so the load loop does not allocate strings.</summary>
internal sealed class KeySet
{
    public KeySet(string prefix, int count)
    {
        Keys = new string[count];
        for (int i = 0; i < count; i++)
        {
            Keys[i] = string.Create(CultureInfo.InvariantCulture, $"bench:{prefix}:{i:D6}");
        }
    }

    /// <summary>A set of keys chosen elsewhere (for example by where the cluster places them).</summary>
    public KeySet(IEnumerable<string> keys) => Keys = [.. keys];

    public string[] Keys { get; }

    public int Count => Keys.Length;

    /// <summary>Where thread <paramref name="thread"/> of <paramref name="threads"/> starts walking, so threads spread over the set.</summary>
    public int StartOf(int thread, int threads) => (int)((long)Count * thread / threads);
}
