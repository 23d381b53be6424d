using Anchorage.Benchmarks;
using BenchmarkDotNet.Running;

// "ratio": fixed-time throughput for bench/crypto-ratio.sh; "issuance": the same for
// bench/issuance-ratio.sh; "workload-api": the load generator of bench/workload-api.sh
// ("workload-api-parts": its per-call costs, piece by piece); "gate-echo"/"gate-load": the
// backend and load generator of bench/gate.sh; "policy": decision latency for bench/policy.sh;
// "attribution": per-connection attribution cost for bench/attribution.sh;
// anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "gate-echo")
{
    return GateLoadMode.RunEcho(args[1..]);
}

if (args.Length > 0 && args[0] == "gate-load")
{
    return GateLoadMode.RunLoad(args[1..]);
}

if (args.Length > 0 && args[0] == "policy")
{
    return PolicyMode.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "workload-api-parts")
{
    return WorkloadApiParts.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "workload-api")
{
    return WorkloadApiMode.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "issuance")
{
    return IssuanceRatio.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "attribution")
{
    return AttributionCostMode.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "ratio")
{
    return RatioMode.Run(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
