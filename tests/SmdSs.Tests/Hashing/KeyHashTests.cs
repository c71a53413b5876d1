using System.Text;
using SmdSs.Hashing;

namespace SmdSs.Tests.Hashing;

public sealed class KeyHashTests
{
    // Reference values of XxHash32 with seed 0: pinned so that a change of algorithm, seed or
    // encoding (which would move every key to another slice) fails here.
    [Theory]
    [InlineData("", 0x02CC5D05u)]
    [InlineData("abc", 0x32D153FFu)]
    public void Hash_is_xxhash32_of_utf8_with_seed_zero(string key, uint expected)
    {
        Assert.Equal(expected, KeyHash.Of(key));
    }

    [Fact]
    public void String_and_utf8_overloads_agree_for_short_and_long_keys()
    {
        foreach (string key in new[] { "a", "session:42", "ключ-🔑", new string('x', 2000) })
        {
            Assert.Equal(KeyHash.Of(Encoding.UTF8.GetBytes(key)), KeyHash.Of(key));
        }
    }

    [Fact]
    public void Hash_spreads_keys_over_sixteen_slices_evenly()
    {
        int[] buckets = new int[16];
        for (int i = 0; i < 160_000; i++)
        {
            buckets[KeyHash.Of("key:" + i) >> 28]++;
        }

        Assert.All(buckets, count => Assert.InRange(count, 9_000, 11_000));
    }
}
