namespace SmdSs.Model;

/// <summary>A replica behind since <paramref name="Since"/> (a write version), its copy complete before it.</summary>
internal readonly record struct ReplicaHint(NodeId Replica, long Since);
