using Anchorage.Spiffe.Svids;

namespace Anchorage.AspNetCore.Tests.Fixtures;

/// <summary>TEST DOUBLE for a Workload API X509Source: holds one SVID that the test replaces to rotate it.</summary>
internal sealed class MutableSvidSource(X509Svid svid) : IX509SvidSource
{
    private volatile X509Svid _svid = svid;

    public X509Svid GetX509Svid() => _svid;

    public void Rotate(X509Svid next) => _svid = next;
}
