using SmdSs.Model;

namespace SmdSs.Transport;

/// <summary>Who is on the other end of an authenticated connection.</summary>
internal sealed record PeerIdentity(NodeId Id, string Endpoint, string RemoteAddress);
