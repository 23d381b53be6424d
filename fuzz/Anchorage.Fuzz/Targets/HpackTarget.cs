using Anchorage.Agent.Gate.Transport.Tunnels;

namespace Anchorage.Fuzz.Targets;

/// <summary>
/// <see cref="HpackDecoder"/>, the HTTP/2 server's HPACK decoder, on one to four header blocks of
/// one connection (the first octet says how many; the rest is cut into that many blocks), so the
/// dynamic table carries over. Documented failure: FormatException (a COMPRESSION_ERROR; the
/// connection ends there). Properties: the table stays within its size and the last size update,
/// its size is what its entries cost, and no block passes the field limits.
/// </summary>
internal sealed class HpackTarget : FuzzTarget
{
    private const int MaxTableSize = 256;
    private const int MaxBlockFields = 32;
    private const int MaxFieldBytes = 1024;

    public override string Name => "hpack";

    public override string Expected => "HpackDecoder.Decode: FormatException";

    public override void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var decoder = new HpackDecoder(MaxTableSize, MaxBlockFields, MaxFieldBytes);
        var blocks = (input[0] & 3) + 1;
        var rest = input.AsSpan(1);
        var length = rest.Length / blocks;
        for (var i = 0; i < blocks; i++)
        {
            var block = i == blocks - 1 ? rest[(i * length)..] : rest.Slice(i * length, length);
            List<(string Name, string Value)> fields;
            try
            {
                fields = decoder.Decode(block);
            }
            catch (FormatException)
            {
                return;
            }

            FuzzPropertyException.Check(fields.Count <= MaxBlockFields, "HpackDecoder returned more fields than its limit");
            FuzzPropertyException.Check(fields.All(f => f.Name.Length + f.Value.Length <= MaxFieldBytes), "HpackDecoder returned a field past its limit");
            FuzzPropertyException.Check(
                decoder.TableSize <= decoder.TableCapacity && decoder.TableCapacity <= MaxTableSize,
                "HpackDecoder's dynamic table outgrew its size");
            FuzzPropertyException.Check(
                decoder.TableSize == decoder.Table.Sum(e => e.Name.Length + e.Value.Length + 32),
                "HpackDecoder's table size is not what its entries cost");
        }
    }
}
