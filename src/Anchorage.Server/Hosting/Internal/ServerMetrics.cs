using System.Diagnostics.Metrics;

namespace Anchorage.Server.Hosting.Internal;

/// <summary>The host's instruments on the <c>Anchorage.Server</c> meter.</summary>
internal sealed class ServerMetrics
{
    public ServerMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(ServerHost.MeterName);
        Starts = meter.CreateCounter<long>("anchorage.server.starts", description: "Times this server process started its listeners.");
        AdminRefused = meter.CreateCounter<long>("anchorage.server.admin.refused", description: "Admin socket requests refused because the caller's uid is not an admin.");
    }

    public Counter<long> Starts { get; }

    public Counter<long> AdminRefused { get; }
}
