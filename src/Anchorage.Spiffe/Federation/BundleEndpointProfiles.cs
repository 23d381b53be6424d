using System.Diagnostics.CodeAnalysis;

namespace Anchorage.Spiffe.Federation;

/// <summary>The wire and storage names of <see cref="BundleEndpointProfile"/> (SPIFFE Trust Domain and Bundle §5.2): <c>https_web</c>, <c>https_spiffe</c>.</summary>
public static class BundleEndpointProfiles
{
    /// <summary><c>https_web</c>.</summary>
    public const string HttpsWeb = "https_web";

    /// <summary><c>https_spiffe</c>.</summary>
    public const string HttpsSpiffe = "https_spiffe";

    /// <summary>The profile's name.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined profile.</exception>
    public static string ToName(BundleEndpointProfile profile) => profile switch
    {
        BundleEndpointProfile.HttpsWeb => HttpsWeb,
        BundleEndpointProfile.HttpsSpiffe => HttpsSpiffe,
        _ => throw new ArgumentOutOfRangeException(nameof(profile), profile, "unknown bundle endpoint profile"),
    };

    /// <summary>Reads a profile name (exact, lowercase); false for anything else.</summary>
    public static bool TryParse([NotNullWhen(true)] string? name, out BundleEndpointProfile profile)
    {
        switch (name)
        {
            case HttpsWeb:
                profile = BundleEndpointProfile.HttpsWeb;
                return true;
            case HttpsSpiffe:
                profile = BundleEndpointProfile.HttpsSpiffe;
                return true;
            default:
                profile = default;
                return false;
        }
    }
}
