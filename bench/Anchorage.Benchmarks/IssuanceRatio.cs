using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Ca;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Benchmarks;

/// <summary>
/// X.509-SVID issuance throughput on one thread, against openssl's own P-256 figures measured in the
/// same run by bench/issuance-ratio.sh: (a) mint from a public key (encode + one ECDSA P-256 signature),
/// (b) the CSR path (parse + verify the CSR's signature + mint).
/// Usage: <c>issuance [--seconds S] [--openssl-sign SIGN_PER_S --openssl-verify VERIFY_PER_S]</c>.
/// </summary>
public static class IssuanceRatio
{
    public static int Run(string[] args)
    {
        var seconds = 3.0;
        double? sslSign = null, sslVerify = null;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--seconds": seconds = value; break;
                case "--openssl-sign": sslSign = value; break;
                case "--openssl-verify": sslVerify = value; break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}");
                    return 2;
            }
        }

        var td = TrustDomain.Parse("bench.example.org");
        var id = SpiffeId.Parse("spiffe://bench.example.org/ns/prod/sa/web");
        using var ca = new X509AuthorityFactory(td).CreateSelfSigned(ECDsa.Create(ECCurve.NamedCurves.nistP256));
        var issuer = new X509SvidIssuer(ca);
        using var workloadKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var spki = workloadKey.ExportSubjectPublicKeyInfo();
        var csr = new CertificateRequest("CN=workload", workloadKey, HashAlgorithmName.SHA256).CreateSigningRequest();

        var mint = Measure(() => issuer.Issue(id, spki), seconds);
        var viaCsr = Measure(() => issuer.IssueFromCsr(id, csr), seconds);

        if (sslSign is { } sign && sslVerify is { } verify)
        {
            var signVerify = 1 / ((1 / sign) + (1 / verify));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"x509-svid mint: {mint:F0}/s = {mint / sign:F2} x openssl p256 sign ({sign:F0}/s)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"x509-svid csr: {viaCsr:F0}/s = {viaCsr / signVerify:F2} x openssl p256 sign+verify ({signVerify:F0}/s)"));
        }
        else
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"x509-svid mint: {mint:F0}/s"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"x509-svid csr: {viaCsr:F0}/s"));
        }

        return 0;
    }

    /// <summary>
    /// Operations per second of user CPU time, the divisor <c>openssl speed</c> uses by default, so a
    /// shared, loaded machine skews both sides alike. The process's user time is used (it includes
    /// the JIT and GC threads, which only makes our figure smaller). Wall-clock rates go to stderr.
    /// </summary>
    private static double Measure(Func<byte[]> operation, double seconds)
    {
        // Warm up (JIT tiering, OpenSSL lazy init) for a tenth of the run, then count whole operations.
        var warmup = Stopwatch.StartNew();
        while (warmup.Elapsed.TotalSeconds < seconds / 10)
        {
            operation();
        }

        using var process = Process.GetCurrentProcess();
        var cpuStart = process.UserProcessorTime;
        long count = 0;
        var watch = Stopwatch.StartNew();
        var cpu = TimeSpan.Zero;
        while (cpu.TotalSeconds < seconds)
        {
            for (var i = 0; i < 64; i++)
            {
                operation();
            }

            count += 64;
            process.Refresh();
            cpu = process.UserProcessorTime - cpuStart;
        }

        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {count} ops, {cpu.TotalSeconds:F2} s user cpu, {watch.Elapsed.TotalSeconds:F2} s wall ({count / watch.Elapsed.TotalSeconds:F0}/s wall)"));
        return count / cpu.TotalSeconds;
    }
}
