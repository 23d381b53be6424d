namespace Anchorage.Server.Hosting;

/// <summary>
/// The process at the other end of an admin socket connection, as the kernel reported it when it
/// connected (<c>SO_PEERCRED</c>). Set as a feature on every admin request:
/// <c>HttpContext.Features.Get&lt;PeerCredentials&gt;()</c> or <c>GetPeerCredentials()</c> (<see cref="PeerCredentialsExtensions"/>).
/// </summary>
/// <param name="ProcessId">The peer's pid.</param>
/// <param name="UserId">The peer's effective uid.</param>
/// <param name="GroupId">The peer's effective gid.</param>
public sealed record PeerCredentials(int ProcessId, uint UserId, uint GroupId);
