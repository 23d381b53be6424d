using System.Text;
using Anchorage.Server.Config;

namespace Anchorage.Fuzz.Targets;

/// <summary>
/// <c>server.yaml</c> through <see cref="ServerConfigLoader.Parse"/>. Documented failure: the
/// result's error list; the loader never throws on bad input.
/// </summary>
internal sealed class ServerConfigTarget : FuzzTarget
{
    public override string Name => "server-config";

    public override string Expected => "ServerConfigLoader.Parse: errors in the result, never an exception";

    public override void Run(byte[] input)
    {
        var result = ServerConfigLoader.Parse(Encoding.UTF8.GetString(input));
        FuzzPropertyException.Check(result.IsValid != (result.Errors.Length > 0), "a server.yaml result has both or neither of a value and errors");
        _ = result.ErrorLines.Count();
    }
}
