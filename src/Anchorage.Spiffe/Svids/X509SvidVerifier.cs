using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Internal;

namespace Anchorage.Spiffe.Svids;

/// <summary>
/// Verifies X.509-SVIDs (X509-SVID §5) against the bundle of the trust domain the leaf names,
/// and only that bundle: never another trust domain's bundle, never the system roots.
/// Thread-safe and meant to be reused: it caches parsed certificates and keys, and the fact that
/// an intermediate chains to an authority of a given bundle instance, so verifying a leaf issued
/// by a known intermediate costs about one signature check.
/// </summary>
/// <remarks>
/// Path validation follows RFC 5280 §6.1 without <c>X509Chain</c>: issuer/subject names are
/// matched byte for byte, every signature on the path is checked (ECDSA P-256/P-384/P-521 and
/// RSA PKCS#1 v1.5 or PSS, with SHA-256/384/512), every certificate must be within its validity
/// window at the verification time, intermediates must be CAs with <c>keyCertSign</c>,
/// <c>pathLenConstraint</c> is honoured, and unknown critical extensions are rejected (name
/// constraints are not processed, so a certificate with critical name constraints is rejected).
/// A bundle authority is a trust anchor: the path ends there whether or not it is self-signed; its
/// own issuer is never needed. An authority is accepted as issuer when it is within its validity
/// window and does not deny signing (basic constraints without <c>cA</c>, or key usage without
/// <c>keyCertSign</c>); a v1 authority without extensions is accepted, as RFC 5280 trust anchors are.
/// </remarks>
public sealed class X509SvidVerifier
{
    /// <summary>The longest path accepted, in intermediates between the leaf and the authority.</summary>
    public const int MaxIntermediates = 8;

    /// <summary>Bounds the work an adversarial chain (many certificates with one name) can cause.</summary>
    private const int MaxSignatureChecks = 32;

    private const int CertificateCacheCapacity = 1024;
    private const int PathCacheCapacity = 256;

    private readonly TimeProvider _timeProvider;
    private readonly ConcurrentDictionary<CertificateHash, X509CertificateInfo> _certificates = new();
    private readonly ConditionalWeakTable<X509Bundle, BundleState> _bundles = new();

    /// <summary>Creates a verifier; <paramref name="timeProvider"/> supplies "now" (default: the system clock).</summary>
    public X509SvidVerifier(TimeProvider? timeProvider = null)
    {
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Verifies <paramref name="chain"/> now; see <see cref="Verify(IReadOnlyList{X509Certificate2}, IX509BundleSource, DateTimeOffset)"/>.</summary>
    public X509SvidVerification Verify(IReadOnlyList<X509Certificate2> chain, IX509BundleSource bundles) =>
        Verify(chain, bundles, _timeProvider.GetUtcNow());

    /// <summary>
    /// Verifies an X.509-SVID chain at time <paramref name="at"/>: the leaf rules of X509-SVID §2,
    /// §3.1, §4.1, §4.3 and §5.2, then RFC 5280 path validation (X509-SVID §5.1) to an authority
    /// of the bundle of the leaf's trust domain.
    /// </summary>
    /// <param name="chain">The leaf first, then untrusted intermediates in any order (extra certificates are ignored).</param>
    /// <param name="bundles">Where the bundle of the leaf's trust domain is looked up; no other bundle is used.</param>
    /// <param name="at">The verification time.</param>
    /// <exception cref="ArgumentException">The chain is empty or holds a null.</exception>
    /// <exception cref="BundleNotFoundException">There is no X.509 bundle for the leaf's trust domain.</exception>
    /// <exception cref="SvidValidationException">The chain breaks a rule or does not verify; the message names what.</exception>
    public X509SvidVerification Verify(IReadOnlyList<X509Certificate2> chain, IX509BundleSource bundles, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentNullException.ThrowIfNull(bundles);
        if (chain.Count == 0)
        {
            throw new ArgumentException("the chain is empty; the leaf certificate is required", nameof(chain));
        }

        for (var i = 0; i < chain.Count; i++)
        {
            if (chain[i] is null)
            {
                throw new ArgumentException($"chain[{i.ToString(CultureInfo.InvariantCulture)}] is null", nameof(chain));
            }
        }

        var leaf = Read(chain[0].RawDataMemory, copy: false, X509SvidRules.Leaf);
        var id = X509SvidRules.CheckLeaf(leaf);

        // X509-SVID §5.1 with DESIGN's scoping rule: only the bundle of the ID's own trust domain.
        if (!bundles.TryGetX509Bundle(id.TrustDomain, out var bundle) || bundle.TrustDomain != id.TrustDomain)
        {
            throw new BundleNotFoundException(id.TrustDomain, "X.509");
        }

        if (leaf.SignatureScheme is null)
        {
            throw new SvidValidationException($"leaf certificate has unsupported signature algorithm {leaf.SignatureAlgorithmOid}");
        }

        if (X509SvidRules.ValidityError(leaf, X509SvidRules.Leaf, at) is { } expired)
        {
            throw new SvidValidationException(expired);
        }

        var state = _bundles.GetValue(bundle, static b => new BundleState(b));
        var candidates = new Candidate[chain.Count - 1];
        for (var i = 1; i < chain.Count; i++)
        {
            var certificate = chain[i];
            var hash = CertificateHash.Of(certificate.RawDataMemory.Span);
            if (!_certificates.TryGetValue(hash, out var info))
            {
                info = Read(certificate.RawDataMemory, copy: true, X509SvidRules.Intermediate(i));
                if (_certificates.Count >= CertificateCacheCapacity)
                {
                    _certificates.Clear();
                }

                _certificates[hash] = info;
            }

            candidates[i - 1] = new Candidate(certificate, info, hash, i);
        }

        if (TryCachedPath(chain[0], leaf, candidates, state, at) is { } cached)
        {
            return new X509SvidVerification(id, cached);
        }

        var search = new PathSearch(candidates, state, at);
        if (search.Extend(leaf, depth: 0))
        {
            Remember(search, candidates, state);
            var path = ImmutableArray.CreateBuilder<X509Certificate2>(search.Stack.Count + 2);
            path.Add(chain[0]);
            foreach (var index in search.Stack)
            {
                path.Add(candidates[index].Certificate);
            }

            path.Add(search.Found!.Certificate);
            return new X509SvidVerification(id, path.MoveToImmutable());
        }

        if (search.Exhausted)
        {
            throw new SvidValidationException("certificate chain has too many candidate issuers to verify");
        }

        throw new SvidValidationException(
            search.Error ?? $"leaf certificate does not chain to an authority of trust domain \"{id.TrustDomain.Name}\"");
    }

    private static X509CertificateInfo Read(ReadOnlyMemory<byte> der, bool copy, string what)
    {
        try
        {
            return X509CertificateInfo.Parse(der, copy);
        }
        catch (FormatException ex)
        {
            throw new SvidValidationException($"{what} cannot be read: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The fast path: the leaf's issuer is a chain certificate already known to chain to an
    /// authority of this bundle instance, valid at <paramref name="at"/>. One signature check.
    /// </summary>
    private static ImmutableArray<X509Certificate2>? TryCachedPath(
        X509Certificate2 leafCertificate,
        X509CertificateInfo leaf,
        Candidate[] candidates,
        BundleState state,
        DateTimeOffset at)
    {
        if (state.Paths.IsEmpty || state.HasAnchorNamed(leaf.Issuer.Span))
        {
            // A leaf issued straight by an authority takes the search, which tries authorities first.
            return null;
        }

        foreach (var candidate in candidates)
        {
            if (!candidate.Info.Subject.Span.SequenceEqual(leaf.Issuer.Span)
                || !state.Paths.TryGetValue(candidate.Hash, out var known)
                || at < known.NotBefore || at > known.NotAfter || known.Slack < 0)
            {
                continue;
            }

            var path = ImmutableArray.CreateBuilder<X509Certificate2>(known.Above.Length + 3);
            path.Add(leafCertificate);
            path.Add(candidate.Certificate);
            foreach (var hash in known.Above)
            {
                // Same answer as the search: every intermediate must be in the caller's chain.
                var index = Array.FindIndex(candidates, c => c.Hash == hash);
                if (index < 0)
                {
                    return null;
                }

                path.Add(candidates[index].Certificate);
            }

            if (!candidate.Info.Signed(leaf))
            {
                continue;
            }

            path.Add(known.Anchor.Certificate);
            return path.MoveToImmutable();
        }

        return null;
    }

    /// <summary>Caches, for every intermediate of a found path, the part of the path above it.</summary>
    private static void Remember(PathSearch search, Candidate[] candidates, BundleState state)
    {
        var stack = search.Stack;
        var anchor = search.Found!;
        for (var k = 0; k < stack.Count; k++)
        {
            var notBefore = anchor.Info.NotBefore;
            var notAfter = anchor.Info.NotAfter;
            var slack = anchor.Info.PathLength is { } anchorLength ? anchorLength - (stack.Count - k) : int.MaxValue;
            var above = new CertificateHash[stack.Count - k - 1];
            for (var j = k; j < stack.Count; j++)
            {
                var info = candidates[stack[j]].Info;
                notBefore = info.NotBefore > notBefore ? info.NotBefore : notBefore;
                notAfter = info.NotAfter < notAfter ? info.NotAfter : notAfter;
                if (info.PathLength is { } length)
                {
                    slack = Math.Min(slack, length - (j - k));
                }

                if (j > k)
                {
                    above[j - k - 1] = candidates[stack[j]].Hash;
                }
            }

            if (state.Paths.Count >= PathCacheCapacity)
            {
                state.Paths.Clear();
            }

            state.Paths[candidates[stack[k]].Hash] = new KnownPath(above, anchor, notBefore, notAfter, slack);
        }
    }

    /// <summary>Depth-first RFC 5280 path building from the leaf up to an authority.</summary>
    private sealed class PathSearch(Candidate[] candidates, BundleState state, DateTimeOffset at)
    {
        private int _budget = MaxSignatureChecks;
        private int _errorDepth = -1;

        /// <summary>Indexes into the candidates of the intermediates on the path, leaf side first.</summary>
        public List<int> Stack { get; } = [];

        public Anchor? Found { get; private set; }

        /// <summary>The failure found deepest in the search (the closest miss), if any.</summary>
        public string? Error { get; private set; }

        public bool Exhausted { get; private set; }

        /// <summary>Finds an issuer of <paramref name="current"/>, which has <paramref name="depth"/> intermediates below it (counting itself if it is one).</summary>
        public bool Extend(X509CertificateInfo current, int depth)
        {
            foreach (var anchor in state.Anchors)
            {
                if (!anchor.Info.Subject.Span.SequenceEqual(current.Issuer.Span))
                {
                    continue;
                }

                if (!Spend())
                {
                    return false;
                }

                if (!anchor.Info.Signed(current))
                {
                    continue;
                }

                if (AnchorError(anchor, depth) is { } error)
                {
                    Record(error, depth + 1);
                    continue;
                }

                Found = anchor;
                return true;
            }

            for (var i = 0; i < candidates.Length; i++)
            {
                var candidate = candidates[i];
                if (Stack.Contains(i) || !candidate.Info.Subject.Span.SequenceEqual(current.Issuer.Span))
                {
                    continue;
                }

                var label = X509SvidRules.Intermediate(candidate.Index);
                if (depth == MaxIntermediates)
                {
                    Record($"certificate chain has more than {MaxIntermediates.ToString(CultureInfo.InvariantCulture)} intermediates", depth + 1);
                    return false;
                }

                if (!Spend())
                {
                    return false;
                }

                if (!candidate.Info.Signed(current))
                {
                    continue;
                }

                var info = candidate.Info;
                var error = X509SvidRules.SigningCertificateError(info, label)
                    ?? X509SvidRules.ValidityError(info, label, at)
                    ?? PathLengthError(info, label, depth)
                    ?? (info.SignatureScheme is null ? $"{label} has unsupported signature algorithm {info.SignatureAlgorithmOid}" : null);
                if (error is not null)
                {
                    Record(error, depth + 1);
                    continue;
                }

                Stack.Add(i);
                if (Extend(info, depth + 1))
                {
                    return true;
                }

                Stack.RemoveAt(Stack.Count - 1);
                if (Exhausted)
                {
                    return false;
                }
            }

            return false;
        }

        private string? AnchorError(Anchor anchor, int depth)
        {
            var info = anchor.Info;
            if (X509SvidRules.ValidityError(info, anchor.Label, at) is { } expired)
            {
                return expired;
            }

            if (info.HasBasicConstraints && !info.IsCa)
            {
                return anchor.Label + " must be a CA";
            }

            if (info.HasKeyUsage && (info.KeyUsage & KeyUsageBits.KeyCertSign) == 0)
            {
                return anchor.Label + " has no keyCertSign key usage";
            }

            return PathLengthError(info, anchor.Label, depth);
        }

        /// <summary>RFC 5280 §4.2.1.9: at most pathLenConstraint intermediates may follow a CA.</summary>
        private static string? PathLengthError(X509CertificateInfo ca, string label, int intermediatesBelow) =>
            ca.PathLength is { } max && intermediatesBelow > max
                ? $"certificate chain exceeds the path length constraint of {label}"
                : null;

        private bool Spend()
        {
            if (_budget-- > 0)
            {
                return true;
            }

            Exhausted = true;
            return false;
        }

        private void Record(string error, int depth)
        {
            if (depth > _errorDepth)
            {
                Error = error;
                _errorDepth = depth;
            }
        }
    }

    private readonly record struct Candidate(X509Certificate2 Certificate, X509CertificateInfo Info, CertificateHash Hash, int Index);

    /// <summary>A bundle authority, parsed once per bundle instance.</summary>
    private sealed record Anchor(X509Certificate2 Certificate, X509CertificateInfo Info, string Label);

    /// <summary>"This intermediate chains, through <see cref="Above"/>, to <see cref="Anchor"/>, within this window."</summary>
    private sealed record KnownPath(CertificateHash[] Above, Anchor Anchor, DateTimeOffset NotBefore, DateTimeOffset NotAfter, int Slack);

    /// <summary>
    /// What the verifier knows about one bundle instance. Bundles are immutable, so keying by the
    /// instance means a changed bundle (a new instance) starts with nothing cached.
    /// </summary>
    private sealed class BundleState
    {
        public BundleState(X509Bundle bundle)
        {
            var anchors = new List<Anchor>();
            for (var i = 0; i < bundle.Authorities.Length; i++)
            {
                var label = $"authority certificate {(i + 1).ToString(CultureInfo.InvariantCulture)} of trust domain \"{bundle.TrustDomain.Name}\"";
                try
                {
                    anchors.Add(new Anchor(bundle.Authorities[i], X509CertificateInfo.Parse(bundle.Authorities[i].RawDataMemory, copy: true), label));
                }
                catch (FormatException)
                {
                    // An authority this code cannot read anchors nothing; the others still work.
                }
            }

            Anchors = [.. anchors];
        }

        public ImmutableArray<Anchor> Anchors { get; }

        public ConcurrentDictionary<CertificateHash, KnownPath> Paths { get; } = new();

        public bool HasAnchorNamed(ReadOnlySpan<byte> name)
        {
            foreach (var anchor in Anchors)
            {
                if (anchor.Info.Subject.Span.SequenceEqual(name))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>SHA-256 of a certificate's DER: the cache key for "this exact certificate".</summary>
    private readonly record struct CertificateHash(ulong A, ulong B, ulong C, ulong D)
    {
        public static CertificateHash Of(ReadOnlySpan<byte> der)
        {
            Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(der, digest);
            var words = MemoryMarshal.Cast<byte, ulong>(digest);
            return new CertificateHash(words[0], words[1], words[2], words[3]);
        }
    }
}
