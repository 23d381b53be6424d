using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Anchorage.Cli.Internal;

/// <summary>
/// How <c>anchorage federation map TD</c> prints a <see cref="FederationMapView"/>.
/// <c>--output json</c>: <c>{ "trustDomain", "bundle": { "sequence", "approval", "distributed",
/// "agents": [ { "agentId", "heldSequence", "reportedAt" } ] }, "entries": [ { "id", "spiffeId", "parentId", "nodes": [ids] } ], "policy": {
/// "mode", "rules": [ { "name", "action", "from", "to", "mentions" } ] } | null, "gates": [ {
/// "agentId", "listener", "direction", "allowed", "denied", "lastAllowed", "lastDenied" } ], "flags" }</c>.
/// <c>--output mermaid</c>: a <c>graph LR</c> from entries and their nodes through the rules to the
/// peer trust domain, with an edge per gate that saw traffic.
/// </summary>
internal static class FederationMapOutput
{
    public static void WriteTable(TextWriter writer, FederationMapView map)
    {
        var s = map.Status;
        Tables.WriteFields(writer,
        [
            ("trust domain", map.TrustDomain),
            ("bundle sequence", s.Sequence.ToString(CultureInfo.InvariantCulture) + " (served by this server)"),
            ("approval", s.Approval.Length == 0 ? "-" : s.Approval),
            ("distributed", s.Distributed ? "yes" : "no (pending or suspended: no agent receives the bundle)"),
            ("validated by", map.Agents.Count == 0 ? "-" : string.Create(CultureInfo.InvariantCulture, $"{map.Agents.Count} agent(s) receiving the bundle, {map.Agents.Count(a => a.HeldSequence == s.Sequence)} holding sequence {s.Sequence}")),
            ("policy", map.PolicyMode is null ? "none applied" : "mode " + map.PolicyMode),
            ("flags", s.Flags.Count == 0 ? "-" : string.Join(", ", s.Flags)),
        ]);
        writer.WriteLine();
        writer.WriteLine("Entries federating with " + map.TrustDomain + ":");
        Tables.Write(writer, ["ENTRY", "SPIFFE ID", "PARENT", "NODES"], map.Entries.Select(e => new[] { e.Id, e.SpiffeId, e.ParentId, e.Nodes.Count == 0 ? "-" : string.Join(", ", e.Nodes) }));
        writer.WriteLine();
        writer.WriteLine("Agents receiving its bundle (the Workload API and gate validate its SVIDs there):");
        Tables.Write(writer, ["AGENT", "HELD SEQUENCE", "REPORTED"], map.Agents.Select(a => new[]
        {
            a.SpiffeId, a.HeldSequence is { } held ? held.ToString(CultureInfo.InvariantCulture) : "not reported", Tables.Time(a.ReportedAt),
        }));
        writer.WriteLine();
        writer.WriteLine("Policy rules naming it:");
        Tables.Write(writer, ["RULE", "ACTION", "FROM", "TO", "MENTIONS"], map.Rules.Select(r => new[] { r.Name, r.Action, r.From, r.To, r.Sides }));
        writer.WriteLine();
        writer.WriteLine("Gates that saw traffic (where connections were finally permitted or refused):");
        Tables.Write(
            writer,
            ["AGENT", "LISTENER", "DIRECTION", "ALLOWED", "DENIED", "LAST ALLOWED", "LAST DENIED"],
            map.Gates.Select(g => new[]
            {
                g.AgentId, g.Listener.Length == 0 ? "-" : g.Listener, g.Direction, g.Allowed.ToString(CultureInfo.InvariantCulture), g.Denied.ToString(CultureInfo.InvariantCulture), Tables.Time(g.LastAllowed), Tables.Time(g.LastDenied),
            }));
    }

    public static void WriteJson(TextWriter writer, FederationMapView map) => FederationOutput.Write(writer, w =>
    {
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
            w.WriteNumberOrNull("heldSequence", a.HeldSequence);
            w.WriteTimeOrNull("reportedAt", a.ReportedAt);
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
            w.WriteStrings("nodes", e.Nodes);
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
            w.WriteTimeOrNull("lastAllowed", g.LastAllowed);
            w.WriteTimeOrNull("lastDenied", g.LastDenied);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStrings("flags", s.Flags);
        w.WriteEndObject();
    });

    /// <summary>
    /// A Mermaid flowchart: node -> entry (runs), entry -> peer (federatesWith), rule -> peer
    /// (allow/deny, dotted), peer -> agent (dotted, the bundle sequence the agent holds), agent -> peer or peer -> agent for each gate that saw traffic (outbound
    /// or inbound, labelled with the counts). Ids and labels as <see cref="InventoryOutput.WriteMermaid"/>.
    /// </summary>
    public static void WriteMermaid(TextWriter writer, FederationMapView map)
    {
        var ids = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var agentIds = new Dictionary<string, string>(StringComparer.Ordinal);
        var text = new StringBuilder("graph LR\n");
        var edges = new StringBuilder();
        var peer = InventoryOutput.NodeId(map.TrustDomain, ids);
        text.Append(CultureInfo.InvariantCulture, $"  {peer}[\"{InventoryOutput.Escape($"{map.TrustDomain} (bundle seq {map.Status.Sequence})")}\"]\n");

        string Agent(string id)
        {
            if (!agentIds.TryGetValue(id, out var node))
            {
                node = InventoryOutput.NodeId("agent " + id, ids);
                agentIds[id] = node;
                text.Append(CultureInfo.InvariantCulture, $"  {node}([\"{InventoryOutput.Escape(id)}\"])\n");
            }

            return node;
        }

        foreach (var e in map.Entries)
        {
            var entry = InventoryOutput.NodeId("entry " + e.SpiffeId, ids);
            text.Append(CultureInfo.InvariantCulture, $"  {entry}[\"{InventoryOutput.Escape(e.SpiffeId)}\"]\n");
            edges.Append(CultureInfo.InvariantCulture, $"  {entry} -->|\"federatesWith\"| {peer}\n");
            foreach (var node in e.Nodes)
            {
                edges.Append(CultureInfo.InvariantCulture, $"  {Agent(node)} -->|\"runs\"| {entry}\n");
            }
        }

        foreach (var r in map.Rules)
        {
            var rule = InventoryOutput.NodeId("rule " + r.Name, ids);
            text.Append(CultureInfo.InvariantCulture, $"  {rule}{{\"{InventoryOutput.Escape($"{r.Action} {r.Name}: {r.From} -> {r.To}")}\"}}\n");
            edges.Append(CultureInfo.InvariantCulture, $"  {rule} -.->|\"{r.Sides}\"| {peer}\n");
        }

        // Where its SVIDs are validated: each agent receiving the bundle, with the sequence it reported holding.
        foreach (var a in map.Agents)
        {
            var held = a.HeldSequence is { } seq ? "holds seq " + seq.ToString(CultureInfo.InvariantCulture) : "held seq not reported";
            edges.Append(CultureInfo.InvariantCulture, $"  {peer} -.->|\"{InventoryOutput.Escape(held)}\"| {Agent(a.SpiffeId)}\n");
        }

        foreach (var g in map.Gates)
        {
            var label = InventoryOutput.Escape(string.Create(CultureInfo.InvariantCulture, $"{g.Direction} at {(g.Listener.Length == 0 ? "?" : g.Listener)}: {g.Allowed} allowed, {g.Denied} denied"));
            var agent = Agent(g.AgentId);
            edges.Append(g.Direction == "inbound"
                ? string.Create(CultureInfo.InvariantCulture, $"  {peer} ==>|\"{label}\"| {agent}\n")
                : string.Create(CultureInfo.InvariantCulture, $"  {agent} ==>|\"{label}\"| {peer}\n"));
        }

        writer.Write(text.Append(edges).ToString());
    }
}
