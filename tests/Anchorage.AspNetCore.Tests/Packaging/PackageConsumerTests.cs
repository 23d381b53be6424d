using System.Diagnostics;
using System.IO.Compression;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Anchorage.Testing;

namespace Anchorage.AspNetCore.Tests.Packaging;

/// <summary>
/// <c>scripts/pack</c> end to end: the three SDK packages are complete (a fresh project outside the
/// repository restores Anchorage.* from the packed folder only, builds and runs), carry their
/// metadata, README, XML docs and symbols, and depend only on what they use.
/// </summary>
public sealed partial class PackageConsumerTests
{
    private static readonly string[] Packages = ["Anchorage.Spiffe", "Anchorage.WorkloadApi", "Anchorage.AspNetCore"];

    [Fact]
    [Trait("Category", "Slow")]
    public void Pack_FreshConsumerWithPackedFolderAsOnlyAnchorageSource_BuildsAndRuns()
    {
        using var dir = new TempDir();
        var packages = Path.Combine(dir.Path, "packages");
        // A version no other run has used, so nothing can come from the NuGet cache.
        var version = "0.0.0-test." + DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        Run(Processes.RepoRoot(), "scripts/pack", [packages], ("VERSION", version));

        foreach (var id in Packages)
        {
            Assert.True(File.Exists(Path.Combine(packages, $"{id}.{version}.nupkg")), id + " nupkg missing");
            Assert.True(File.Exists(Path.Combine(packages, $"{id}.{version}.snupkg")), id + " snupkg missing");
        }

        Assert.Equal(6, Directory.GetFiles(packages).Length);
        AssertPackage(packages, version, "Anchorage.Spiffe", [], []);
        AssertPackage(packages, version, "Anchorage.WorkloadApi",
            ["Anchorage.Spiffe", "Google.Protobuf", "Grpc.Net.Client", "Microsoft.Extensions.DependencyInjection.Abstractions"], []);
        AssertPackage(packages, version, "Anchorage.AspNetCore",
            ["Anchorage.Spiffe", "Anchorage.WorkloadApi"], ["Microsoft.AspNetCore.App"]);

        var consumer = Path.Combine(dir.Path, "consumer");
        Directory.CreateDirectory(consumer);
        File.WriteAllText(Path.Combine(consumer, "nuget.config"), NugetConfig(packages));
        File.WriteAllText(Path.Combine(consumer, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk.Web">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Anchorage.AspNetCore" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(consumer, "Program.cs"), ConsumerProgram);
        Run(consumer, "dotnet", ["restore", "--configfile", Path.Combine(consumer, "nuget.config")]);
        var output = Run(consumer, "dotnet", ["run", "--no-restore", "-c", "Release"]);

        Assert.Contains("consumer ok: spiffe://acme.corp/web in acme.corp; handler SpiffeMtlsHttpHandler; meter Anchorage.WorkloadApi", output);
        var assets = File.ReadAllText(Path.Combine(consumer, "obj", "project.assets.json"));
        Assert.DoesNotContain("Anchorage.Protos", assets);
        Assert.Contains($"\"Anchorage.Spiffe/{version}\"", assets);
    }

    private const string ConsumerProgram = """
        using Anchorage.AspNetCore.Authentication;
        using Anchorage.AspNetCore.Authorization;
        using Anchorage.AspNetCore.Health;
        using Anchorage.AspNetCore.Http;
        using Anchorage.AspNetCore.Kestrel;
        using Anchorage.Spiffe.Authorization;
        using Anchorage.Spiffe.Ids;
        using Anchorage.WorkloadApi;

        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddSpiffeWorkloadApi(o => o.Address = "unix:///nonexistent/api.sock");
        builder.WebHost.UseSpiffeMtls(Authorizer.MemberOf(TrustDomain.Parse("acme.corp")));
        builder.Services.AddAuthentication(SpiffeAuthenticationDefaults.X509Scheme).AddSpiffeX509().AddJwtSvid("spiffe://acme.corp/orders");
        builder.Services.AddAuthorization(o => o.AddPolicy("web", p => p.RequireSpiffeId("spiffe://acme.corp/web")));
        builder.Services.AddHealthChecks().AddSpiffe();
        builder.Services.AddHttpClient("payments").AddSpiffeMtls(Authorizer.Exact(SpiffeId.Parse("spiffe://acme.corp/payments")));
        var app = builder.Build();
        app.MapGet("/", () => "ok").RequireTrustDomain("acme.corp");
        var id = SpiffeId.Parse("spiffe://acme.corp/web");
        var channel = SpiffeGrpcChannelOptions.Mtls(app.Services.GetRequiredService<X509Source>(), Anchorage.Spiffe.Bundles.BundleSet.Empty, Authorizer.Any());
        Console.WriteLine($"consumer ok: {id} in {id.TrustDomain}; handler {channel.HttpHandler!.GetType().Name}; meter {WorkloadApiMetrics.MeterName}");
        """;

    private static void AssertPackage(string folder, string version, string id, string[] dependencies, string[] frameworkReferences)
    {
        using var zip = ZipFile.OpenRead(Path.Combine(folder, $"{id}.{version}.nupkg"));
        var nuspec = XDocument.Load(zip.GetEntry($"{id}.nuspec")!.Open());
        XNamespace ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        Assert.Equal(id, metadata.Element(ns + "id")!.Value);
        Assert.False(string.IsNullOrWhiteSpace(metadata.Element(ns + "description")!.Value));
        Assert.Equal("Apache-2.0", metadata.Element(ns + "license")!.Value);
        Assert.Equal("expression", metadata.Element(ns + "license")!.Attribute("type")!.Value);
        Assert.Equal("README.md", metadata.Element(ns + "readme")!.Value);
        Assert.NotNull(zip.GetEntry("README.md"));
        Assert.NotNull(zip.GetEntry($"lib/net10.0/{id}.dll"));
        Assert.NotNull(zip.GetEntry($"lib/net10.0/{id}.xml"));
        Assert.DoesNotContain(zip.Entries, e => e.FullName.Contains("Anchorage.Protos", StringComparison.Ordinal) || e.FullName.Contains("Anchorage.Agent", StringComparison.Ordinal));

        var actual = metadata.Descendants(ns + "dependency").Select(d => d.Attribute("id")!.Value).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(dependencies.Order(StringComparer.Ordinal).ToArray(), actual);
        var frameworks = metadata.Descendants(ns + "frameworkReference").Select(d => d.Attribute("name")!.Value).ToArray();
        Assert.Equal(frameworkReferences, frameworks);

        // Deterministic, CI-style build: source paths are mapped, so no path of this machine is in the binary.
        using var dll = new MemoryStream();
        zip.GetEntry($"lib/net10.0/{id}.dll")!.Open().CopyTo(dll);
        var text = System.Text.Encoding.Latin1.GetString(dll.ToArray());
        Assert.DoesNotContain(Processes.RepoRoot(), text);
    }

    private static string NugetConfig(string packages)
    {
        // The regular feeds as this machine knows them, for everything but Anchorage.*.
        var list = Run(Path.GetTempPath(), "dotnet", ["nuget", "list", "source", "--format", "detailed"]);
        var feeds = FeedLine().Matches(list).Select(m => (Key: m.Groups[1].Value, Url: m.Groups[2].Value)).ToList();
        Assert.NotEmpty(feeds);
        var add = string.Concat(feeds.Select(f => $"""<add key="{f.Key}" value="{f.Url}" />"""));
        var map = string.Concat(feeds.Select(f => $"""<packageSource key="{f.Key}"><package pattern="*" /></packageSource>"""));
        return $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources><clear /><add key="anchorage-packed" value="{packages}" />{add}</packageSources>
              <packageSourceMapping>
                <packageSource key="anchorage-packed"><package pattern="Anchorage.*" /></packageSource>
                {map}
              </packageSourceMapping>
            </configuration>
            """;
    }

    [GeneratedRegex(@"^\s*\d+\.\s+(\S+) \[Enabled\]\r?\n\s+(\S+)", RegexOptions.Multiline)]
    private static partial Regex FeedLine();

    private static string Run(string cwd, string file, string[] args, params (string Name, string Value)[] env)
    {
        var psi = new ProcessStartInfo(file == "scripts/pack" ? Path.Combine(cwd, file) : file)
        {
            WorkingDirectory = cwd,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in env)
        {
            psi.Environment[name] = value;
        }

        // Not the test host's MSBuild settings: the child builds on its own.
        psi.Environment.Remove("MSBuildExtensionsPath");
        psi.Environment.Remove("MSBUILD_EXE_PATH");
        psi.Environment.Remove("MSBuildSDKsPath");
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(15)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} did not finish within 15 minutes");
        }

        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {process.ExitCode}:\n{stdout}\n{stderr.Result}");
        return stdout;
    }
}
