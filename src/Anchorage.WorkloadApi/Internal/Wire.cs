using System.Text.Json;
using System.Text.Json.Nodes;
using Anchorage.Protos.Workload;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Google.Protobuf;
using Google.Protobuf.Collections;

namespace Anchorage.WorkloadApi.Internal;

/// <summary>Turns Workload API messages into core types, through the core's parsers only.</summary>
internal static class Wire
{
    /// <summary>SVIDs (chain DER + PKCS#8 key) and bundles (concatenated DER), Workload API §5.2.1.</summary>
    public static X509Context ToX509Context(X509SVIDResponse response)
    {
        if (response.Svids.Count == 0)
        {
            throw new FormatException("x509 svid response has no svids");
        }

        var svids = new List<X509Svid>(response.Svids.Count);
        var bundles = BundleSet.Empty;
        foreach (var message in response.Svids)
        {
            var svid = X509Svid.FromDer(message.X509Svid.Span, message.X509SvidKey.Span, message.Hint.Length == 0 ? null : message.Hint);
            svids.Add(svid);
            if (!bundles.X509Bundles.ContainsKey(svid.Id.TrustDomain))
            {
                bundles = bundles.With(X509Bundle.FromDer(svid.Id.TrustDomain, message.Bundle.Span));
            }
        }

        foreach (var (key, der) in response.FederatedBundles)
        {
            var trustDomain = TrustDomainKey(key);
            if (!bundles.X509Bundles.ContainsKey(trustDomain))
            {
                bundles = bundles.With(X509Bundle.FromDer(trustDomain, der.Span));
            }
        }

        return new X509Context(svids, bundles);
    }

    /// <summary>A map of trust domain to concatenated DER certificates (Workload API §5.2.2).</summary>
    public static BundleSet ToX509Bundles(MapField<string, ByteString> map)
    {
        var bundles = BundleSet.Empty;
        foreach (var (key, der) in map)
        {
            var trustDomain = TrustDomainKey(key);
            bundles = bundles.With(X509Bundle.FromDer(trustDomain, der.Span));
        }

        return bundles;
    }

    /// <summary>A map of trust domain to a JWK Set (Workload API §6.2.2).</summary>
    public static BundleSet ToJwtBundles(MapField<string, ByteString> map)
    {
        var bundles = BundleSet.Empty;
        foreach (var (key, jwks) in map)
        {
            var trustDomain = TrustDomainKey(key);
            bundles = bundles.With(SpiffeBundle.Parse(trustDomain, WithJwtUse(jwks.Span)).ToJwtBundle());
        }

        return bundles;
    }

    /// <summary>
    /// Keys are SPIFFE IDs of trust domains (<c>spiffe://td</c>); a bare name is read too, since
    /// some servers send one.
    /// </summary>
    public static TrustDomain TrustDomainKey(string key) =>
        TrustDomain.TryParse(key, out var trustDomain, out var error)
            ? trustDomain
            : throw new FormatException($"bundle key is not a trust domain: {error}");

    /// <summary>
    /// A Workload API JWK Set holds only JWT authorities, so <c>use</c> is not required there
    /// (unlike a SPIFFE bundle, SPIFFE_Trust_Domain_and_Bundle §4.2.2): a key without one is
    /// read as <c>jwt-svid</c> before the core parser sees it.
    /// </summary>
    private static byte[] WithJwtUse(ReadOnlySpan<byte> jwks)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(jwks, documentOptions: new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            throw new FormatException("jwt bundle is not valid json", ex);
        }

        if (root is JsonObject obj && obj["keys"] is JsonArray keys)
        {
            var changed = false;
            foreach (var key in keys)
            {
                if (key is JsonObject jwk && !jwk.ContainsKey("use"))
                {
                    jwk["use"] = "jwt-svid";
                    changed = true;
                }
            }

            if (changed)
            {
                return JsonSerializer.SerializeToUtf8Bytes(root);
            }
        }

        return jwks.ToArray();
    }
}
