using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Anchorage.Server.Ca.Internal;

/// <summary>The outcome of <see cref="NativeEcdsa.Verify"/>.</summary>
internal enum NativeVerifyResult
{
    /// <summary>libcrypto 3 is not loadable here: use the managed path.</summary>
    Unavailable,
    Valid,
    Invalid,

    /// <summary>The point is not on the curve.</summary>
    BadKey,
}

/// <summary>
/// ECDSA verification of CSR signatures straight through libcrypto's EC_KEY API (the library .NET
/// itself uses on Linux). Loading a public key through <c>ECDsa.ImportSubjectPublicKeyInfo</c>
/// costs about twice the verification itself (OpenSSL 3 builds and checks a provider key each
/// time); here the curve is built once and each request costs one point decode (which checks the
/// point is on the curve; P-256 and P-384 have cofactor 1, so that is the whole public-key check)
/// and one verification. When libcrypto 3 is not available the caller falls back to .NET.
/// </summary>
internal static partial class NativeEcdsa
{
    private const string LibCrypto = "libcrypto.so.3";
    private const int NidP256 = 415; // NID_X9_62_prime256v1
    private const int NidP384 = 715; // NID_secp384r1

    private static readonly Lazy<(IntPtr P256, IntPtr P384)?> s_groups = new(LoadGroups);

    /// <summary>Tests set this to exercise the managed fallback; both paths give the same answers.</summary>
    internal static bool ForceManaged { get; set; }

    /// <summary>Verifies a DER ECDSA signature over <paramref name="digest"/> with an uncompressed point.</summary>
    public static NativeVerifyResult Verify(SubjectKeyKind kind, ReadOnlySpan<byte> point, ReadOnlySpan<byte> digest, ReadOnlySpan<byte> signature)
    {
        if (ForceManaged || s_groups.Value is not { } groups || signature.IsEmpty || point.IsEmpty || digest.IsEmpty)
        {
            return NativeVerifyResult.Unavailable;
        }

        var group = kind == SubjectKeyKind.EcP384 ? groups.P384 : groups.P256;
        var key = IntPtr.Zero;
        var ecPoint = IntPtr.Zero;
        try
        {
            key = NativeMethods.EC_KEY_new();
            ecPoint = NativeMethods.EC_POINT_new(group);
            if (key == IntPtr.Zero || ecPoint == IntPtr.Zero || NativeMethods.EC_KEY_set_group(key, group) != 1)
            {
                throw new CryptographicException("libcrypto could not allocate an EC key");
            }

            if (NativeMethods.EC_POINT_oct2point(group, ecPoint, ref MemoryMarshal.GetReference(point), (nuint)point.Length, IntPtr.Zero) != 1
                || NativeMethods.EC_KEY_set_public_key(key, ecPoint) != 1)
            {
                return NativeVerifyResult.BadKey;
            }

            // 1: valid; 0: invalid; -1: error (e.g. a signature that is not DER): all but 1 reject.
            var result = NativeMethods.ECDSA_verify(
                0, ref MemoryMarshal.GetReference(digest), digest.Length, ref MemoryMarshal.GetReference(signature), signature.Length, key);
            return result == 1 ? NativeVerifyResult.Valid : NativeVerifyResult.Invalid;
        }
        finally
        {
            NativeMethods.EC_POINT_free(ecPoint);
            NativeMethods.EC_KEY_free(key);

            // Leave no error behind on this thread for the next OpenSSL caller (.NET's own shim included).
            NativeMethods.ERR_clear_error();
        }
    }

    private static (IntPtr P256, IntPtr P384)? LoadGroups()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            // Built once and kept for the process lifetime (read-only afterwards, safe to share).
            var p256 = NativeMethods.EC_GROUP_new_by_curve_name(NidP256);
            var p384 = NativeMethods.EC_GROUP_new_by_curve_name(NidP384);
            NativeMethods.ERR_clear_error();
            return p256 == IntPtr.Zero || p384 == IntPtr.Zero ? null : (p256, p384);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return null;
        }
    }

    private static class NativeMethods
    {
        [DllImport(LibCrypto)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern IntPtr EC_GROUP_new_by_curve_name(int nid);

        [DllImport(LibCrypto)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern IntPtr EC_KEY_new();

        [DllImport(LibCrypto)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int EC_KEY_set_group(IntPtr key, IntPtr group);

        [DllImport(LibCrypto)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int EC_KEY_set_public_key(IntPtr key, IntPtr point);

        [DllImport(LibCrypto)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern void EC_KEY_free(IntPtr key);

        [DllImport(LibCrypto)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern IntPtr EC_POINT_new(IntPtr group);

        [DllImport(LibCrypto)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern void EC_POINT_free(IntPtr point);

        [DllImport(LibCrypto)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int EC_POINT_oct2point(IntPtr group, IntPtr point, ref byte buffer, nuint length, IntPtr context);

        [DllImport(LibCrypto)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int ECDSA_verify(int type, ref byte digest, int digestLength, ref byte signature, int signatureLength, IntPtr key);

        [DllImport(LibCrypto)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern void ERR_clear_error();
    }
}
