using System.Globalization;
using System.Text.Json;

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
        w.WriteStartArray("agents");
        foreach (var a in map.Agents)
        {
            w.WriteStartObject();
            w.WriteString("agentId", a.SpiffeId);
            if (a.HeldSequence is { } held)
            {
                w.WriteNumber("heldSequence", held);
            }
            else
            {
                w.WriteNull("heldSequence");
            }

            Time(w, "reportedAt", a.ReportedAt);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteStartArray("entries");
        foreach (var e in map.Entries)
        {
            w.WriteStartObject();
            w.WriteString("id", e.Id);
            w.WriteString("spiffeId", e.SpiffeId);
            w.WriteString("parentId", e.ParentId);
            Strings(w, "nodes", e.Nodes);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        if (map.PolicyMode is null)
        {
            w.WriteNull("policy");
        }
        else
        {
            w.WriteStartObject("policy");
            w.WriteString("mode", map.PolicyMode);
            w.WriteStartArray("rules");
            foreach (var r in map.Rules)
            {
                w.WriteStartObject();
                w.WriteString("name", r.Name);
                w.WriteString("action", r.Action);
                w.WriteString("from", r.From);
                w.WriteString("to", r.To);
                w.WriteString("mentions", r.Sides);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteStartArray("gates");
        foreach (var g in map.Gates)
        {
            w.WriteStartObject();
            w.WriteString("agentId", g.AgentId);
            w.WriteString("listener", g.Listener);
            w.WriteString("direction", g.Direction);
            w.WriteNumber("allowed", g.Allowed);
            w.WriteNumber("denied", g.Denied);
            Time(w, "lastAllowed", g.LastAllowed);
            Time(w, "lastDenied", g.LastDenied);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        Strings(w, "flags", s.Flags);
        w.WriteEndObject();
    }

    private static void Strings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteStringValue(v);
        }

        w.WriteEndArray();
    }

    private static void Time(Utf8JsonWriter w, string name, long unixSeconds)
    {
        if (unixSeconds == 0)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, DateTimeOffset.FromUnixTimeSeconds(unixSeconds).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        }
    }
}
