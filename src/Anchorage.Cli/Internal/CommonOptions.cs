using System.CommandLine;
using System.Globalization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Cli.Internal;

/// <summary>Options several offline verbs share, and how their values are read.</summary>
internal static class CommonOptions
{
    private static readonly string[] Rfc3339Formats =
    [
        "yyyy-MM-dd'T'HH:mm:ss'Z'",
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'",
        "yyyy-MM-dd'T'HH:mm:sszzz",
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz",
    ];

    public static Option<string[]> Bundles(string description) => new("--bundle")
    {
        Description = description,
        Required = true,
        AllowMultipleArgumentsPerToken = false,
        Arity = ArgumentArity.OneOrMore,
    };

    public static Option<string?> At() => new("--at")
    {
        Description = "verify as of this instant (RFC 3339, e.g. 2026-11-22T10:00:00Z) instead of now",
    };

    /// <summary>The clock a verb verifies with: <c>--at</c> when given, else the context's.</summary>
    /// <exception cref="CliException">The value is not RFC 3339 with an offset.</exception>
    public static TimeProvider Clock(string? at, TimeProvider now)
    {
        if (at is null)
        {
            return now;
        }

        if (!DateTimeOffset.TryParseExact(at, Rfc3339Formats, CultureInfo.InvariantCulture, DateTimeStyles.None, out var instant))
        {
            throw CliException.Usage($"--at \"{at}\" is not an RFC 3339 time such as 2026-11-22T10:00:00Z");
        }

        return new FixedTimeProvider(instant.ToUniversalTime());
    }

    /// <summary>
    /// Reads <c>TD=FILE</c> values into a set holding each file's bundle under its trust domain only.
    /// A file is PEM certificates, DER, or SPIFFE bundle JSON (detected). Warnings about ignored
    /// keys go to <paramref name="warnings"/>.
    /// </summary>
    /// <exception cref="CliException">A value is not TD=FILE, a trust domain repeats, or a file is unreadable or malformed.</exception>
    public static BundleSet ReadBundles(IEnumerable<string> values, TextWriter warnings)
    {
        var set = BundleSet.Empty;
        var seen = new HashSet<TrustDomain>();
        foreach (var value in values)
        {
            var eq = value.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || eq == value.Length - 1)
            {
                throw CliException.Usage($"--bundle \"{value}\" must be TD=FILE, e.g. acme.corp=bundle.pem");
            }

            if (!TrustDomain.TryParse(value.AsSpan(0, eq), out var td, out var tdError))
            {
                throw CliException.Usage($"--bundle \"{value}\": {tdError}");
            }

            if (!seen.Add(td))
            {
                throw CliException.Usage($"--bundle: trust domain \"{td}\" is given more than once");
            }

            var bundle = ReadBundleFile(td, value[(eq + 1)..], warnings);
            set = set.With(bundle);
        }

        return set;
    }

    /// <summary>Reads one bundle file (PEM, DER or SPIFFE JSON) for <paramref name="trustDomain"/>.</summary>
    public static SpiffeBundle ReadBundleFile(TrustDomain trustDomain, string path, TextWriter warnings)
    {
        var content = ReadFile(path, "bundle file");
        try
        {
            var bundle = SpiffeBundle.Load(trustDomain, content, out var fileWarnings);
            foreach (var warning in fileWarnings)
            {
                warnings.WriteLine($"warning: {path}: {warning}");
            }

            return bundle;
        }
        catch (FormatException ex)
        {
            throw CliException.Usage($"bundle file {path}: {CliApp.OneLine(ex.Message)}");
        }
    }

    /// <summary>Reads a whole file, turning I/O failures into one-line usage errors.</summary>
    public static byte[] ReadFile(string path, string what)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw CliException.Usage($"{what} {path}: {CliApp.OneLine(ex.Message)}");
        }
    }
}
