using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Anchorage.Server.Ca.Internal;

/// <summary>DER pieces of certificates (RFC 5280 §4.1, §4.2).</summary>
internal static class X509Encoding
{
    public const string BasicConstraintsOid = "2.5.29.19";
    public const string KeyUsageOid = "2.5.29.15";
    public const string ExtendedKeyUsageOid = "2.5.29.37";
    public const string SubjectKeyIdentifierOid = "2.5.29.14";
    public const string AuthorityKeyIdentifierOid = "2.5.29.35";
    public const string SubjectAltNameOid = "2.5.29.17";
    public const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    public const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";
    public const string OrganizationOid = "2.5.4.10";
    public const string CommonNameOid = "2.5.4.3";

    /// <summary>The upper bound of a CommonName (RFC 5280 Appendix A, ub-common-name).</summary>
    public const int MaxCommonNameLength = 64;

    private static readonly Asn1Tag UriTag = new(TagClass.ContextSpecific, 6);
    private static readonly Asn1Tag DnsTag = new(TagClass.ContextSpecific, 2);
    private static readonly Asn1Tag KeyIdTag = new(TagClass.ContextSpecific, 0);

    /// <summary>Writes a Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5), whole seconds.</summary>
    public static void WriteTime(AsnWriter writer, DateTimeOffset value)
    {
        var utc = TruncateToSeconds(value);
        if (utc.Year is >= 1950 and < 2050)
        {
            writer.WriteUtcTime(utc);
        }
        else
        {
            writer.WriteGeneralizedTime(utc, omitFractionalSeconds: true);
        }
    }

    /// <summary>The UTC instant with its sub-second part dropped (certificates carry whole seconds).</summary>
    public static DateTimeOffset TruncateToSeconds(DateTimeOffset value)
    {
        var utc = value.ToUniversalTime();
        return new DateTimeOffset(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
    }

    /// <summary>A random positive 128-bit serial number (RFC 5280 §4.1.2.2: at most 20 octets).</summary>
    public static void WriteRandomSerial(AsnWriter writer)
    {
        Span<byte> serial = stackalloc byte[16];
        RandomNumberGenerator.Fill(serial);
        if (serial[0] == 0)
        {
            serial[0] = 1; // keeps the encoding minimal (no redundant leading zero octet)
        }

        writer.WriteIntegerUnsigned(serial);
    }

    /// <summary>Name ::= RDNSequence of one-attribute RDNs, UTF8String values.</summary>
    public static byte[] Name(params ReadOnlySpan<(string Oid, string Value)> attributes)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            foreach (var (oid, value) in attributes)
            {
                WriteRdn(writer, oid, value);
            }
        }

        return writer.Encode();
    }

    public static void WriteRdn(AsnWriter writer, string oid, string value)
    {
        using (writer.PushSetOf())
        using (writer.PushSequence())
        {
            writer.WriteObjectIdentifier(oid);
            writer.WriteCharacterString(UniversalTagNumber.UTF8String, value);
        }
    }

    /// <summary>Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }.</summary>
    public static byte[] Extension(string oid, bool critical, ReadOnlySpan<byte> value)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        WriteExtension(writer, oid, critical, value);
        return writer.Encode();
    }

    public static void WriteExtension(AsnWriter writer, string oid, bool critical, ReadOnlySpan<byte> value)
    {
        using (writer.PushSequence())
        {
            writer.WriteObjectIdentifier(oid);
            if (critical)
            {
                writer.WriteBoolean(true);
            }

            writer.WriteOctetString(value);
        }
    }

    /// <summary>basicConstraints (critical): cA TRUE or the empty sequence (cA FALSE is the default, omitted in DER).</summary>
    public static byte[] BasicConstraints(bool ca)
    {
        var value = new AsnWriter(AsnEncodingRules.DER);
        using (value.PushSequence())
        {
            if (ca)
            {
                value.WriteBoolean(true);
            }
        }

        return Extension(BasicConstraintsOid, critical: true, value.Encode());
    }

    /// <summary>keyUsage (critical) with the given flags.</summary>
    public static byte[] KeyUsage(X509KeyUsageFlags flags) =>
        Extension(KeyUsageOid, critical: true, new X509KeyUsageExtension(flags, critical: true).RawData);

    /// <summary>extKeyUsage: serverAuth, clientAuth (X509-SVID §4.4).</summary>
    public static byte[] ServerAndClientAuth()
    {
        var value = new AsnWriter(AsnEncodingRules.DER);
        using (value.PushSequence())
        {
            value.WriteObjectIdentifier(ServerAuthOid);
            value.WriteObjectIdentifier(ClientAuthOid);
        }

        return Extension(ExtendedKeyUsageOid, critical: false, value.Encode());
    }

    public static void WriteSubjectKeyIdentifier(AsnWriter writer, ReadOnlySpan<byte> keyId)
    {
        Span<byte> value = stackalloc byte[keyId.Length + 2];
        value[0] = 0x04;
        value[1] = (byte)keyId.Length;
        keyId.CopyTo(value[2..]);
        WriteExtension(writer, SubjectKeyIdentifierOid, critical: false, value);
    }

    /// <summary>authorityKeyIdentifier: SEQUENCE { [0] keyIdentifier }.</summary>
    public static byte[] AuthorityKeyIdentifier(ReadOnlySpan<byte> keyId)
    {
        var value = new AsnWriter(AsnEncodingRules.DER);
        using (value.PushSequence())
        {
            value.WriteOctetString(keyId, KeyIdTag);
        }

        return Extension(AuthorityKeyIdentifierOid, critical: false, value.Encode());
    }

    /// <summary>subjectAltName: the URI first, then the DNS names (IA5String, checked by the caller).</summary>
    public static void WriteSubjectAltName(AsnWriter writer, string uri, IReadOnlyList<string>? dnsNames)
    {
        var value = new AsnWriter(AsnEncodingRules.DER);
        using (value.PushSequence())
        {
            value.WriteCharacterString(UniversalTagNumber.IA5String, uri, UriTag);
            if (dnsNames is not null)
            {
                foreach (var name in dnsNames)
                {
                    value.WriteCharacterString(UniversalTagNumber.IA5String, name, DnsTag);
                }
            }
        }

        // Not critical: the subject name is never empty (RFC 5280 §4.2.1.6).
        using (writer.PushSequence())
        {
            writer.WriteObjectIdentifier(SubjectAltNameOid);
            writer.WriteOctetString(value.Encode());
        }
    }

    /// <summary>
    /// A DNS name as RFC 5280 §4.2.1.6 / RFC 1034 preferred syntax allows in a SAN: letters, digits
    /// and hyphens in labels of 1 to 63 characters, at most 253 in all; the first label may be <c>*</c>.
    /// </summary>
    public static bool IsValidDnsName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 253)
        {
            return false;
        }

        var labels = name.Split('.');
        for (var i = 0; i < labels.Length; i++)
        {
            var label = labels[i];
            if (i == 0 && label == "*" && labels.Length > 1)
            {
                continue;
            }

            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
            {
                return false;
            }

            foreach (var c in label)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c != '-')
                {
                    return false;
                }
            }
        }

        return true;
    }
}
