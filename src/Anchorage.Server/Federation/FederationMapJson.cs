using System.Text.Json;
using Anchorage.Foundation.Json;

namespace Anchorage.Server.Federation;

/// <summary>
/// A <see cref="FederationMapView"/> as one JSON object, the same for <c>anchorage federation map
/// --output json</c> and the web console's relationship page: <c>{ "trustDomain", "bundle": {
/// "sequence", "approval", "distributed", "agents": [ { "agentId", "heldSequence", "reportedAt" } ] },
/// "entries": [ { "id", "spiffeId", "parentId", "nodes": [ids] } ], "policy": { "mode", "rules": [ {
/// "name", "action", "from", "to", "mentions" } ] } | null, "gates": [ { "agentId", "listener",
/// "direction", "allowed", "denied", "lastAllowed", "lastDenied" } ], "flags" }</c>. Numbers are JSON
/// numbers; times RFC 3339 UTC strings, absent ones (and an unreported held sequence) null.
/// </summary>
public static class FederationMapJson
{
    /// <summary>Writes <paramref name="map"/> as one object.</summary>
    public static void Write(Utf8JsonWriter w, FederationMapView map)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(map);
        var s = map.Status;
        w.WriteStartObject();
        w.WriteString("trustDomain", map.TrustDomain);
        w.WriteStartObject("bundle");
        w.WriteNumber("sequence", s.Sequence);
        w.WriteString("approval", s.Approval);
        w.WriteBoolean("distributed", s.Distributed);
        w.WriteObjects("agents", map.Agents, static (w, a) =>
        {
            w.WriteString("agentId", a.SpiffeId);
            w.WriteNumberOrNull("heldSequence", a.HeldSequence);
            w.WriteTimeOrNull("reportedAt", a.ReportedAt);
        });
        w.WriteEndObject();
        w.WriteObjects("entries", map.Entries, static (w, e) =>
        {
            w.WriteString("id", e.Id);
            w.WriteString("spiffeId", e.SpiffeId);
            w.WriteString("parentId", e.ParentId);
            w.WriteStrings("nodes", e.Nodes);
        });
        if (map.PolicyMode is null)
        {
            w.WriteNull("policy");
        }
        else
        {
            w.WriteStartObject("policy");
            w.WriteString("mode", map.PolicyMode);
            w.WriteObjects("rules", map.Rules, static (w, r) =>
            {
                w.WriteString("name", r.Name);
                w.WriteString("action", r.Action);
                w.WriteString("from", r.From);
                w.WriteString("to", r.To);
                w.WriteString("mentions", r.Sides);
            });
            w.WriteEndObject();
        }

        w.WriteObjects("gates", map.Gates, static (w, g) =>
        {
            w.WriteString("agentId", g.AgentId);
            w.WriteString("listener", g.Listener);
            w.WriteString("direction", g.Direction);
            w.WriteNumber("allowed", g.Allowed);
            w.WriteNumber("denied", g.Denied);
            w.WriteTimeOrNull("lastAllowed", g.LastAllowed);
            w.WriteTimeOrNull("lastDenied", g.LastDenied);
        });
        w.WriteStrings("flags", s.Flags);
        w.WriteEndObject();
    }
}
