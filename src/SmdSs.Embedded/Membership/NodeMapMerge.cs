using SmdSs.Model;

namespace SmdSs.Membership;

/// <summary>
/// How a node takes node records from a peer: every record newer than the one held (or new) is
/// taken; a record saying this node is Suspect or Down (any record of it newer than its own) is
/// refuted by a higher incarnation, unless the node is going down and lets it stand. Pure.
/// </summary>
internal static class NodeMapMerge
{
    /// <param name="held">This node's map.</param>
    /// <param name="self">This node's own record.</param>
    /// <param name="admitted">The records to take (checked and admitted by the caller; any of this node is left out).</param>
    /// <param name="received">Every record the peer sent, the ones about this node among them.</param>
    /// <param name="mayRefute">False while the node stops or leaves for good.</param>
    /// <param name="newSelf">This node's record after the merge (refuted or not).</param>
    /// <param name="changed">The records taken.</param>
    public static NodeMap Merge(NodeMap held, NodeRecord self, IEnumerable<NodeRecord> admitted, IEnumerable<NodeRecord> received, bool mayRefute, out NodeRecord newSelf, out List<NodeRecord> changed)
    {
        NodeMap merged = held.Merge(admitted.Where(r => r.Id != self.Id), out changed);
        newSelf = self;
        NodeRecord? aboutMe = received.Where(r => r.Id == self.Id).FirstOrDefault(r => r.Supersedes(self));
        if (aboutMe is not null && mayRefute)
        {
            // A higher incarnation beats any suspicion at the old one.
            newSelf = self with { Incarnation = aboutMe.Incarnation + 1, State = self.State is NodeState.Leaving ? NodeState.Leaving : NodeState.Up };
            merged = merged.With(newSelf);
        }

        return merged;
    }
}
