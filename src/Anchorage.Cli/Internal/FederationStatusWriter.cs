using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Internal;

/// <summary>Prints one relationship's status in the chosen format (shared by <c>show</c> and <c>refresh</c>).</summary>
internal static class FederationStatusWriter
{
    public static void Write(CliContext context, OutputFormat format, FederationStatus status)
    {
        if (format == OutputFormat.Json)
        {
            FederationOutput.WriteJson(context.Out, status, context.Time.GetUtcNow());
        }
        else
        {
            FederationOutput.WriteFields(context.Out, status, context.Time.GetUtcNow());
            FederationHistoryOutput.WriteSection(context.Out, status);
        }
    }
}
