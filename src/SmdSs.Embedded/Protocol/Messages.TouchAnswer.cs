namespace SmdSs.Protocol;

/// <remarks>
/// FORMAT (v1) of the optional payload of a <see cref="MessageType.Replicate"/>'s <c>Ok</c> when the
/// request carried sliding renewals (touches): <c>u32 count | count × string key</c>, the touches
/// the slice's primary did not take (the entry is gone or expired there); <c>u32 0xFFFFFFFF</c>
/// from a node that is not the primary (none counts as confirmed); empty: every one taken.
/// </remarks>
internal static partial class Messages
{
    private const uint NotPrimaryMarker = uint.MaxValue;

    public static byte[] EncodeRefusedTouches(List<string>? refused, bool notPrimary)
    {
        if (notPrimary)
        {
            return new MessageWriter().U32(NotPrimaryMarker).ToArray();
        }

        if (refused is null or { Count: 0 })
        {
            return [];
        }

        var writer = new MessageWriter().U32((uint)refused.Count);
        foreach (string key in refused)
        {
            writer.String(key);
        }

        return writer.ToArray();
    }

    /// <summary>The refused keys; null when the answer is malformed or not the primary's (then nothing is confirmed).</summary>
    public static HashSet<string>? DecodeRefusedTouches(byte[] payload)
    {
        var refused = new HashSet<string>(StringComparer.Ordinal);
        if (payload.Length == 0)
        {
            return refused;
        }

        try
        {
            var reader = new MessageReader(payload);
            if (payload.Length == 4 && reader.U32() == NotPrimaryMarker)
            {
                return null;
            }

            reader = new MessageReader(payload);
            int count = reader.Count(minItemBytes: 2);
            for (int i = 0; i < count; i++)
            {
                refused.Add(reader.String());
            }

            return refused;
        }
        catch (ProtocolException)
        {
            return null;
        }
    }
}
