using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Anchorage.Agent.Gate.Provenance;

namespace Anchorage.Agent.Tests.Gate.Provenance;

public sealed class OriginStatementTests : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    private static readonly OriginClaims Claims = new()
    {
        ConnectionId = "c7",
        AgentId = "spiffe://acme.corp/agent/n1",
        Subject = "spiffe://acme.corp/web",
        Pid = 4242,
        Exe = "/usr/bin/web",
        Sha256 = new string('a', 64),
        Uid = 1000,
        Gid = 1001,
        StartTime = 123456,
        IssuedAtMs = 1_700_000_000_123,
        Binding = new TunnelBinding("cli", "srv", "nonce"),
    };

    public void Dispose() => _key.Dispose();

    [Fact]
    public void SignThenRead_SameKey_SameClaims()
    {
        var statement = OriginStatement.Sign(Claims, _key);

        Assert.Equal(Claims, OriginStatement.Read(statement, _key));
        Assert.Equal("{\"alg\":\"ES256\",\"typ\":\"anchorage-origin+jws\"}", Encoding.UTF8.GetString(Base64Url.DecodeFromChars(statement.Split('.')[0])));
    }

    [Fact]
    public void Read_OtherKey_Refused()
    {
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var error = Assert.Throws<ProvenanceException>(() => OriginStatement.Read(OriginStatement.Sign(Claims, other), _key));
        Assert.Equal("the origin statement's signature does not verify with the sending agent's key", error.Message);
    }

    [Theory]
    [InlineData("{\"alg\":\"none\",\"typ\":\"anchorage-origin+jws\"}")]
    [InlineData("{\"alg\":\"ES256\"}")]
    [InlineData("{\"alg\":\"ES256\",\"typ\":\"anchorage-origin+jws\",\"jwk\":{}}")]
    public void Read_OtherHeader_Refused(string header)
    {
        var parts = OriginStatement.Sign(Claims, _key).Split('.');
        var statement = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header)) + "." + parts[1] + "." + parts[2];

        var error = Assert.Throws<ProvenanceException>(() => OriginStatement.Read(statement, _key));
        Assert.Equal("the origin statement's header is not {\"alg\":\"ES256\",\"typ\":\"anchorage-origin+jws\"}", error.Message);
    }

    [Theory]
    [InlineData("a.b", "the origin statement is not a JWS compact serialization")]
    [InlineData("a.b.c.d", "the origin statement is not a JWS compact serialization")]
    [InlineData("!!.b.c", "the origin statement is not base64url")]
    public void Read_Malformed_Refused(string statement, string message) =>
        Assert.Equal(message, Assert.Throws<ProvenanceException>(() => OriginStatement.Read(statement, _key)).Message);

    [Fact]
    public void Read_TooLong_RefusedBeforeParsing() =>
        Assert.Equal(
            "the origin statement is longer than 8192 characters",
            Assert.Throws<ProvenanceException>(() => OriginStatement.Read(new string('a', OriginStatement.MaxLength + 1), _key)).Message);
}
