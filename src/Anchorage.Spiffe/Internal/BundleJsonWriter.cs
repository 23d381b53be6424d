using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Anchorage.Spiffe.Bundles;

namespace Anchorage.Spiffe.Internal;

/// <summary>
/// Writes a SPIFFE bundle as the strict JWK Set SPIRE accepts: always <c>keys</c>; x509-svid keys
/// with key parameters and exactly one <c>x5c</c>, no <c>kid</c>; jwt-svid keys with <c>kid</c>.
/// Member order is fixed, so equal bundles give equal bytes.
/// </summary>
internal static class BundleJsonWriter
{
    private static readonly JsonWriterOptions Options = new()
    {
        // Base64 uses '+' and '/', which the default encoder escapes; JSON does not need that.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    internal static byte[] Write(SpiffeBundle bundle)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, Options))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("keys");
            for (var i = 0; i < bundle.X509Authorities.Length; i++)
            {
                var certificate = bundle.X509Authorities[i];
                var key = Jwk.FromSubjectPublicKeyInfo(certificate.PublicKey.ExportSubjectPublicKeyInfo(), out var error)
                    ?? throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"x509 authority {i} cannot be published: {error}"));
                writer.WriteStartObject();
                writer.WriteString("use", BundleJsonReader.X509SvidUse);
                WriteKeyParameters(writer, key);
                writer.WriteStartArray("x5c");
                writer.WriteBase64StringValue(certificate.RawDataMemory.Span);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            foreach (var authority in bundle.JwtAuthorities)
            {
                var key = Jwk.FromSubjectPublicKeyInfo(authority.SubjectPublicKeyInfo.Span, out var error)
                    ?? throw new InvalidOperationException($"jwt authority \"{Ids.TrustDomain.Printable(authority.KeyId)}\" cannot be published: {error}");
                writer.WriteStartObject();
                writer.WriteString("use", BundleJsonReader.JwtSvidUse);
                writer.WriteString("kid", authority.KeyId);
                WriteKeyParameters(writer, key);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            if (bundle.SequenceNumber is { } sequence)
            {
                writer.WriteNumber("spiffe_sequence", sequence);
            }

            if (bundle.RefreshHint is { } hint)
            {
                // Whole seconds (§4.1.2), rounded up so a sub-second hint never becomes 0.
                var seconds = hint.Ticks / TimeSpan.TicksPerSecond;
                if (hint.Ticks % TimeSpan.TicksPerSecond != 0 && seconds < TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerSecond)
                {
                    seconds++;
                }

                writer.WriteNumber("spiffe_refresh_hint", seconds);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteKeyParameters(Utf8JsonWriter writer, JwkKey key)
    {
        writer.WriteString("kty", key.Kty);
        if (key.Kty == Jwk.KtyEc)
        {
            writer.WriteString("crv", key.Crv);
            writer.WriteString("x", Jwk.EncodeBase64Url(key.First));
            writer.WriteString("y", Jwk.EncodeBase64Url(key.Second));
        }
        else
        {
            writer.WriteString("n", Jwk.EncodeBase64Url(key.First));
            writer.WriteString("e", Jwk.EncodeBase64Url(key.Second));
        }
    }
}
