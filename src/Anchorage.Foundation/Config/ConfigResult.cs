using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;

namespace Anchorage.Foundation.Config;

/// <summary>
/// The outcome of loading a configuration file: either the options or every error found, never
/// both. Bad input is reported here, not thrown.
/// </summary>
/// <typeparam name="T">The options record.</typeparam>
public sealed class ConfigResult<T>
    where T : class
{
    /// <summary>A successful load.</summary>
    public ConfigResult(T value)
    {
        ArgumentNullException.ThrowIfNull(value);
        Value = value;
        Errors = [];
    }

    /// <summary>A failed load; <paramref name="errors"/> must not be empty.</summary>
    public ConfigResult(IEnumerable<ConfigError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        Errors = [.. errors];
        if (Errors.IsEmpty)
        {
            throw new ArgumentException("a failed result needs at least one error", nameof(errors));
        }
    }

    /// <summary>True when the file was valid and <see cref="Value"/> is set.</summary>
    [MemberNotNullWhen(true, nameof(Value))]
    public bool IsValid => Value is not null;

    /// <summary>The options; null when <see cref="Errors"/> is not empty.</summary>
    public T? Value { get; }

    /// <summary>Every error, in the order of the file (errors without a line last).</summary>
    public ImmutableArray<ConfigError> Errors { get; }

    /// <summary>The errors as the lines an operator reads, one per error.</summary>
    public IEnumerable<string> ErrorLines => Errors.Select(e => e.ToString());
}
