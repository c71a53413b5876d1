namespace SmdSs.Model;

/// <summary>Binary search over the sorted start hashes of a gap-free range list.</summary>
internal static class RangeSearch
{
    /// <summary>The index of the last start at or below <paramref name="hash"/>; starts[0] must be 0.</summary>
    public static int IndexOf(ReadOnlySpan<uint> starts, uint hash)
    {
        int low = 0;
        int high = starts.Length - 1;
        while (low < high)
        {
            // Upper middle, so that low always advances.
            int mid = low + ((high - low + 1) / 2);
            if (starts[mid] <= hash)
            {
                low = mid;
            }
            else
            {
                high = mid - 1;
            }
        }

        return low;
    }
}
