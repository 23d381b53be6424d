namespace Anchorage.Spiffe.Federation;

/// <summary>How a bundle endpoint authenticates itself (SPIFFE Trust Domain and Bundle §5.2).</summary>
public enum BundleEndpointProfile
{
    /// <summary><c>https_web</c>: a Web PKI certificate for the URL's host, validated with system roots or configured extra roots.</summary>
    HttpsWeb,

    /// <summary><c>https_spiffe</c>: an X.509-SVID with an expected SPIFFE ID, validated with the latest bundle of the endpoint's own trust domain.</summary>
    HttpsSpiffe,
}
