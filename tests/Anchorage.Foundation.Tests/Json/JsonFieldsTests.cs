using System.Buffers;
using System.Text;
using System.Text.Json;
using Anchorage.Foundation.Json;

namespace Anchorage.Foundation.Tests.Json;

public sealed class JsonFieldsTests
{
    [Fact]
    public void Write_AbsentValues_AreNull()
    {
        var json = Write(w =>
        {
            w.WriteTimeOrNull("time", 0);
            w.WriteStringOrNull("text", string.Empty);
            w.WriteNumberOrNull("count", present: false, 7L);
            w.WriteNumberOrNull("held", (ulong?)null);
        });

        Assert.Equal("""{"time":null,"text":null,"count":null,"held":null}""", json);
    }

    [Fact]
    public void Write_PresentValues_AreWrittenAsThemselves()
    {
        var json = Write(w =>
        {
            w.WriteTimeOrNull("time", 1_795_000_000);
            w.WriteStringOrNull("text", "a");
            w.WriteNumberOrNull("count", present: true, 7L);
            w.WriteNumberOrNull("skew", present: true, -1.5);
            w.WriteNumberOrNull("held", (ulong?)3);
        });

        Assert.Equal("""{"time":"2026-11-18T11:06:40Z","text":"a","count":7,"skew":-1.5,"held":3}""", json);
    }

    [Fact]
    public void WriteObjects_EachItem_IsOneObjectAndNoItemsIsAnEmptyArray()
    {
        var json = Write(w =>
        {
            w.WriteObjects("rows", new[] { 1, 2 }, static (w, n) => w.WriteNumber("n", n));
            w.WriteObjects("none", Array.Empty<int>(), static (w, n) => w.WriteNumber("n", n));
            w.WriteStrings("names", ["x", "y"]);
        });

        Assert.Equal("""{"rows":[{"n":1},{"n":2}],"none":[],"names":["x","y"]}""", json);
    }

    private static string Write(Action<Utf8JsonWriter> fields)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            fields(w);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
