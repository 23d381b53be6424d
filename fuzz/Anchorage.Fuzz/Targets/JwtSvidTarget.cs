using System.Text;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Svids;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Fuzz.Targets;

/// <summary>
/// A JWT-SVID as a workload presents it: <see cref="JwtSvidValidator.Validate"/> against the fixed
/// JWT bundle (key id <c>fuzz</c>) at a fixed instant, and <see cref="JwtSvid.ParseInsecure"/>.
/// Documented failures: SvidValidationException, BundleNotFoundException.
/// </summary>
internal sealed class JwtSvidTarget : FuzzTarget
{
    private readonly FakeTimeProvider _clock = new(Fixtures.Now);
    private readonly JwtSvidValidator _validator;

    public JwtSvidTarget() => _validator = new JwtSvidValidator(_clock);

    public override string Name => "jwt-svid";

    public override string Expected => "JwtSvidValidator.Validate, JwtSvid.ParseInsecure: SvidValidationException, BundleNotFoundException";

    public override void Run(byte[] input)
    {
        var token = Encoding.UTF8.GetString(input);
        try
        {
            var svid = _validator.Validate(token, Fixtures.Audience, Fixtures.JwtBundle);
            FuzzPropertyException.Check(svid.Audience.Contains(Fixtures.Audience), "a validated token lacks the audience");
        }
        catch (SpiffeException)
        {
        }

        try
        {
            _ = JwtSvid.ParseInsecure(token, Fixtures.Audience, _clock);
        }
        catch (SpiffeException)
        {
        }
    }
}
