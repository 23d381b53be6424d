using Anchorage.Foundation.Selectors;

namespace Anchorage.Foundation.Tests.Selectors;

public sealed class SelectorTests
{
    [Theory]
    [InlineData("unix:uid:1000", "unix", "uid:1000")]
    [InlineData("k8s:ns:default", "k8s", "ns:default")]
    [InlineData("a:b", "a", "b")]
    public void Parse_TypeColonValue_SplitsAtTheFirstColon(string text, string type, string value)
    {
        var selector = Selector.Parse(text);

        Assert.Equal(new Selector(type, value), selector);
        Assert.Equal(text, selector.ToString());
    }

    [Theory]
    [InlineData("", "must not be empty")]
    [InlineData("unix", "must be type:value, e.g. unix:uid:1000")]
    [InlineData(":uid:1000", "must be type:value, e.g. unix:uid:1000")]
    [InlineData("unix:", "must be type:value, e.g. unix:uid:1000")]
    [InlineData("unix:uid: 1000", "contains whitespace or control characters")]
    [InlineData("unix:uid:1000\n", "contains whitespace or control characters")]
    public void TryParse_NotASelector_SaysWhy(string text, string expected)
    {
        Assert.False(Selector.TryParse(text, out _, out var error));
        Assert.Equal(expected, error);
        Assert.Equal($"selector \"{text}\" {expected}", Assert.Throws<FormatException>(() => Selector.Parse(text)).Message);
    }

    [Fact]
    public void Equality_SameTypeAndValue_OrdinalOnly()
    {
        Assert.Equal(new Selector("unix", "user:alice"), new Selector("unix", "user:alice"));
        Assert.NotEqual(new Selector("unix", "user:alice"), new Selector("unix", "user:Alice"));
    }
}
