namespace SmdSs.Model;

/// <summary>
/// A node's state in the node map. At equal incarnation a record with a later state in this
/// order wins the merge (see <see cref="NodeRecord.Supersedes"/>); only the node itself can leave
/// Suspect or Down again, by announcing a higher incarnation.
/// </summary>
internal enum NodeState : byte
{
    Joining = 0,
    Up = 1,
    Suspect = 2,
    Leaving = 3,
    Down = 4,
    Left = 5,
}
