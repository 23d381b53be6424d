using System.Runtime.CompilerServices;

namespace Anchorage.Policy.Internal;

/// <summary>
/// FNV-1a hashes of an ID's text up to each place a pattern can end: the end of the trust domain,
/// each '/' after it, and the end of the text (<c>spiffe://td</c>, <c>spiffe://td/ns</c>,
/// <c>spiffe://td/ns/web</c>). A rule's text whose length and hash match is then confirmed with a
/// string comparison; the hash only spares reading the rule's text for rules that cannot match.
/// </summary>
internal struct PrefixHashes
{
    public const int Capacity = 8;
    private const int SchemeLength = 9; // "spiffe://"

    private Lengths _lengths;
    private Hashes _hashes;
    private int _count;

    /// <summary>False when the text has more places than <see cref="Capacity"/>; callers then compare strings directly.</summary>
    public bool Complete { get; private set; }

    public static PrefixHashes Of(string text)
    {
        var result = default(PrefixHashes);
        result.Complete = true;
        var hash = Offset;
        for (var i = 0; i <= text.Length; i++)
        {
            if (i == text.Length || (i > SchemeLength && text[i] == '/'))
            {
                if (result._count == Capacity)
                {
                    result.Complete = false;
                    return result;
                }

                result._lengths[result._count] = i;
                result._hashes[result._count] = hash;
                result._count++;
            }

            if (i < text.Length)
            {
                hash = (hash ^ text[i]) * Prime;
            }
        }

        return result;
    }

    /// <summary>The hash of the first <paramref name="length"/> characters, if that is one of the places recorded.</summary>
    public readonly bool TryGet(int length, out ulong hash)
    {
        for (var i = 0; i < _count; i++)
        {
            if (_lengths[i] == length)
            {
                hash = _hashes[i];
                return true;
            }
        }

        hash = 0;
        return false;
    }

    public static ulong Hash(ReadOnlySpan<char> text)
    {
        var hash = Offset;
        foreach (var c in text)
        {
            hash = (hash ^ c) * Prime;
        }

        return hash;
    }

    private const ulong Offset = 14695981039346656037;
    private const ulong Prime = 1099511628211;

    [InlineArray(Capacity)]
    private struct Lengths
    {
        private int _element;
    }

    [InlineArray(Capacity)]
    private struct Hashes
    {
        private ulong _element;
    }
}
