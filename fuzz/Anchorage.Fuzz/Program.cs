using Anchorage.Fuzz;
using Anchorage.Fuzz.Targets;
using SharpFuzz;

// Usage (fuzz/run drives it; see fuzz/README.md):
//   Anchorage.Fuzz list                 the targets and what each documents as its failure
//   Anchorage.Fuzz afl TARGET           the AFL++ loop (under afl-fuzz, on SharpFuzz-instrumented assemblies)
//   Anchorage.Fuzz once TARGET FILE...  replays inputs; prints the exception of each crash; exit 1 if any crashed
//   Anchorage.Fuzz seed DIR             writes the seeds made with the tests' fixtures to DIR/TARGET/
// Factories, not instances: under afl-fuzz no instrumented code may run (not even a target's
// static fields) before SharpFuzz has mapped the coverage memory, so the target is made inside the loop.
Func<FuzzTarget>[] factories =
[
    () => new SpiffeIdTarget(),
    () => new X509SvidTarget(),
    () => new JwtSvidTarget(),
    () => new BundleJsonTarget(),
    () => new PemDerTarget(),
    () => new CsrTarget(),
    () => new PolicyTarget(),
    () => new AgentConfigTarget(),
    () => new ServerConfigTarget(),
    () => new AuditLineTarget(),
    () => new HpackTarget(),
];
string[] names =
[
    "spiffe-id", "x509-svid", "jwt-svid", "bundle-json", "pem-der", "csr", "policy", "agent-config", "server-config", "audit-line", "hpack",
];

Func<FuzzTarget> Factory(string name) =>
    Array.IndexOf(names, name) is var i and >= 0
        ? factories[i]
        : throw new ArgumentException($"unknown target \"{name}\"; targets: {string.Join(", ", names)}");

FuzzTarget Find(string name)
{
    var target = Factory(name)();
    return target.Name == name ? target : throw new InvalidOperationException($"target {name} calls itself {target.Name}");
}

switch (args)
{
    case ["list"]:
        foreach (var t in names.Select(Find))
        {
            Console.WriteLine($"{t.Name}\t{t.Expected}");
        }

        return 0;

    case ["afl", var name]:
    {
        var create = Factory(name);
        FuzzTarget? target = null;
        // Out of process: a stack overflow or a hang kills only the child, which SharpFuzz restarts.
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            target ??= create();
            target.Run(buffer.ToArray());
        });
        return 0;
    }

    case ["once", var name, .. var files] when files.Length > 0:
    {
        var target = Find(name);
        var crashed = 0;
        foreach (var file in files)
        {
            try
            {
                target.Run(File.ReadAllBytes(file));
            }
            catch (Exception e)
            {
                crashed++;
                Console.Error.WriteLine($"{file}: crash: {e}");
            }
        }

        Console.WriteLine($"{name}: {files.Length} inputs, {crashed} crashed");
        return crashed == 0 ? 0 : 1;
    }

    case ["seed", var dir]:
        Seeds.Write(dir);
        return 0;

    default:
        Console.Error.WriteLine("usage: Anchorage.Fuzz list | afl TARGET | once TARGET FILE... | seed DIR");
        return 2;
}
