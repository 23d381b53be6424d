using Anchorage.Spiffe.Svids;

namespace Anchorage.WorkloadApi.Server;

/// <summary>Options of the Workload API service.</summary>
public sealed class WorkloadApiOptions
{
    /// <summary>The default of <see cref="MaxStreamsPerCaller"/>.</summary>
    public const int DefaultMaxStreamsPerCaller = 32;

    /// <summary>
    /// How many streaming calls (FetchX509SVID, FetchX509Bundles, FetchJWTBundles) one caller may
    /// hold open at once; more are refused with Unavailable. Default 32; at least 1.
    /// </summary>
    public int MaxStreamsPerCaller { get; set; } = DefaultMaxStreamsPerCaller;

    /// <summary>The default of <see cref="MaxAudiences"/>.</summary>
    public const int DefaultMaxAudiences = 16;

    /// <summary>The default of <see cref="MaxAudienceLength"/>.</summary>
    public const int DefaultMaxAudienceLength = 1024;

    /// <summary>Audience values one FetchJWTSVID may ask for; more get InvalidArgument. Default 16.</summary>
    public int MaxAudiences { get; set; } = DefaultMaxAudiences;

    /// <summary>The longest audience value (in UTF-16 code units) FetchJWTSVID and ValidateJWTSVID accept; longer ones get InvalidArgument. Default 1024.</summary>
    public int MaxAudienceLength { get; set; } = DefaultMaxAudienceLength;

    /// <summary>The clock for JWT-SVID validation. Default the system clock.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Clock skew allowed when validating JWT-SVIDs. Default <see cref="JwtSvidValidator.DefaultLeeway"/>.</summary>
    public TimeSpan JwtLeeway { get; set; } = JwtSvidValidator.DefaultLeeway;
}
