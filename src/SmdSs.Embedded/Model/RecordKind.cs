namespace SmdSs.Model;

/// <summary>What a record in a slice file does to its key.</summary>
internal enum RecordKind : byte
{
    /// <summary>Stores a value (replacing any older version).</summary>
    Put = 1,

    /// <summary>Tombstone: the key is removed as of this version.</summary>
    Delete = 2,

    /// <summary>Moves the sliding-expiration deadline of the entry with the same version.</summary>
    Touch = 3,
}
