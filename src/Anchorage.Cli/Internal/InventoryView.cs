using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Internal;

/// <summary>Everything <c>anchorage inventory</c> shows, as the admin API answered it.</summary>
internal sealed record InventoryView(ServerInfo Server, IReadOnlyList<Authority> Authorities, ulong BundleSequence, IReadOnlyList<FederationStatus> Relationships);
