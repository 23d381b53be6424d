using System.Text;
using Anchorage.Agent.Config;

namespace Anchorage.Fuzz.Targets;

/// <summary>
/// <c>agent.yaml</c> through <see cref="AgentConfigLoader.Parse"/>. Documented failure: the
/// result's error list; the loader never throws on bad input.
/// </summary>
internal sealed class AgentConfigTarget : FuzzTarget
{
    public override string Name => "agent-config";

    public override string Expected => "AgentConfigLoader.Parse: errors in the result, never an exception";

    public override void Run(byte[] input)
    {
        var result = AgentConfigLoader.Parse(Encoding.UTF8.GetString(input));
        FuzzPropertyException.Check(result.IsValid != (result.Errors.Length > 0), "an agent.yaml result has both or neither of a value and errors");
        _ = result.ErrorLines.Count();
    }
}
