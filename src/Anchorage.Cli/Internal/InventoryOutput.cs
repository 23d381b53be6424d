using System.Globalization;
using System.Text;
using System.Text.Json;
using Anchorage.Foundation.Json;

namespace Anchorage.Cli.Internal;

/// <summary>
/// How <c>anchorage inventory</c> prints the local trust domain and its federation relationships.
/// <c>--output json</c>: <c>{ "trustDomain", "bundleSequence", "authorities": [ { "kind", "id",
/// "state", "tainted", "notBefore", "notAfter", "serverId" } ], "bundleEndpoint": { "profile",
/// "listen" } | null, "relationships": [ the objects of <c>federation show --output json</c> ] }</c>.
/// <c>--output mermaid</c>: a <c>graph LR</c> with the local domain, one node per federated domain
/// and an edge to each labelled with its owner and flags.
/// </summary>
internal static class InventoryOutput
{
    public static void WriteJson(TextWriter writer, InventoryView inventory, DateTimeOffset now) => FederationOutput.Write(writer, w =>
    {
        w.WriteStartObject();
        w.WriteString("trustDomain", inventory.Server.TrustDomain);
        w.WriteNumber("bundleSequence", inventory.BundleSequence);
        w.WriteObjects("authorities", inventory.Authorities, static (w, a) =>
        {
            w.WriteString("kind", a.Kind);
            w.WriteString("id", a.Id);
            w.WriteString("state", a.State);
            w.WriteBoolean("tainted", a.Tainted);
            w.WriteTimeOrNull("notBefore", a.NotBefore);
            w.WriteTimeOrNull("notAfter", a.NotAfter);
            w.WriteString("serverId", a.ServerId);
        });
        if (inventory.Server.BundleEndpoint is { } endpoint)
        {
            w.WriteStartObject("bundleEndpoint");
            w.WriteString("profile", endpoint.Profile);
            w.WriteString("listen", endpoint.Listen);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("bundleEndpoint");
        }

        w.WriteStartArray("relationships");
        foreach (var relationship in inventory.Relationships)
        {
            FederationOutput.WriteObject(w, relationship, now);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });

    public static void WriteTable(TextWriter writer, InventoryView inventory, DateTimeOffset now)
    {
        var endpoint = inventory.Server.BundleEndpoint;
        Tables.WriteFields(writer,
        [
            ("trust domain", inventory.Server.TrustDomain),
            ("bundle sequence", inventory.BundleSequence.ToString(CultureInfo.InvariantCulture)),
            ("bundle endpoint", endpoint is null ? "-" : $"{endpoint.Profile} on {endpoint.Listen}"),
            ("relationships", inventory.Relationships.Count.ToString(CultureInfo.InvariantCulture)),
        ]);
        writer.WriteLine();
        Tables.Write(
            writer,
            ["KIND", "ID", "STATE", "TAINTED", "NOT AFTER"],
            inventory.Authorities.Select(a => new[] { a.Kind, a.Id, a.State, a.Tainted ? "yes" : "no", Tables.Time(a.NotAfter) }));
        writer.WriteLine();
        FederationOutput.WriteTable(writer, inventory.Relationships, now);
    }

    /// <summary>
    /// A Mermaid flowchart: node ids are the trust domain names with every character but
    /// <c>[A-Za-z0-9_]</c> made <c>_</c> (made unique with <c>_2</c>, <c>_3</c>...; Mermaid's keyword
    /// <c>end</c> gets a trailing <c>_</c>); labels are quoted with <c>"</c>, <c>#</c>, <c>&lt;</c>,
    /// <c>&gt;</c> and <c>|</c> written as Mermaid entity codes.
    /// </summary>
    public static void WriteMermaid(TextWriter writer, InventoryView inventory)
    {
        var ids = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var text = new StringBuilder();
        text.Append("graph LR\n");
        var local = NodeId(inventory.Server.TrustDomain, ids);
        text.Append(CultureInfo.InvariantCulture, $"  {local}[\"{Escape(inventory.Server.TrustDomain)}\"]\n");
        var edges = new StringBuilder();
        foreach (var relationship in inventory.Relationships)
        {
            var peer = NodeId(relationship.TrustDomain, ids);
            text.Append(CultureInfo.InvariantCulture, $"  {peer}[\"{Escape(relationship.TrustDomain)}\"]\n");
            var label = string.Join(" · ", new[] { relationship.Owner }.Concat(relationship.Flags).Where(p => p.Length > 0));
            edges.Append(CultureInfo.InvariantCulture, $"  {local} -->|\"{Escape(label)}\"| {peer}\n");
        }

        writer.Write(text.Append(edges).ToString());
    }

    /// <summary>Text made safe inside a quoted Mermaid label.</summary>
    public static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            escaped.Append(c switch
            {
                '#' => "#35;",
                '"' => "#quot;",
                '<' => "#lt;",
                '>' => "#gt;",
                '|' => "#124;",
                '\r' or '\n' => " ",
                _ => c.ToString(),
            });
        }

        return escaped.ToString();
    }

    public static string NodeId(string name, HashSet<string> taken)
    {
        var id = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            id.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
        }

        var baseId = id.Length == 0 ? "_" : id.ToString();
        if (string.Equals(baseId, "end", StringComparison.OrdinalIgnoreCase))
        {
            baseId += "_";
        }

        var candidate = baseId;
        for (var n = 2; !taken.Add(candidate); n++)
        {
            candidate = string.Create(CultureInfo.InvariantCulture, $"{baseId}_{n}");
        }

        return candidate;
    }
}
