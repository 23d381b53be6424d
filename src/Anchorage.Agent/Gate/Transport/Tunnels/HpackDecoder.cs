using System.Text;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>
/// The HPACK (RFC 7541) decoding state of one HTTP/2 connection: its dynamic table (§2.3.2, §4)
/// and the decoding of each header block into fields (§6). A decoding error is a
/// COMPRESSION_ERROR (RFC 9113 §4.3): the caller closes the connection, and the decoder is not
/// used again.
/// </summary>
internal sealed class HpackDecoder
{
    /// <summary>The octets an entry costs besides its name and value (§4.1).</summary>
    private const int EntryOverhead = 32;

    /// <summary>Continuation octets after the prefix: 5 carry 35 bits, more than an int holds (§5.1).</summary>
    private const int MaxIntegerContinuations = 5;

    private readonly int _maxTableSize;
    private readonly int _maxBlockFields;
    private readonly int _maxFieldBytes;

    // The dynamic table, oldest first: dynamic index 1 (index 62) is the last element.
    private readonly List<(string Name, string Value)> _entries = [];
    private int _capacity;
    private int _size;

    /// <param name="maxTableSize">The SETTINGS_HEADER_TABLE_SIZE this side announced: the largest table size update the peer may send (§4.2).</param>
    /// <param name="maxBlockFields">The most fields one header block may hold.</param>
    /// <param name="maxFieldBytes">The most octets of name and value one field may hold.</param>
    public HpackDecoder(int maxTableSize = 4096, int maxBlockFields = 128, int maxFieldBytes = 16 * 1024)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxTableSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBlockFields);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxFieldBytes);
        _maxTableSize = maxTableSize;
        _maxBlockFields = maxBlockFields;
        _maxFieldBytes = maxFieldBytes;
        _capacity = maxTableSize;
    }

    /// <summary>The dynamic table's size in octets: names, values and 32 per entry (§4.1).</summary>
    internal int TableSize => _size;

    /// <summary>The dynamic table's current maximum size, as the last size update set it (§4.2).</summary>
    internal int TableCapacity => _capacity;

    /// <summary>The dynamic table, newest first: element 0 is index 62 (§2.3.3).</summary>
    internal IReadOnlyList<(string Name, string Value)> Table => [.. Enumerable.Reverse(_entries)];

    /// <summary>
    /// Decodes one complete header block (the HEADERS fragment and its CONTINUATION fragments
    /// joined) into its fields, in order, and updates the dynamic table as the block says.
    /// </summary>
    /// <exception cref="FormatException">The block is malformed or passes a limit (a COMPRESSION_ERROR).</exception>
    public List<(string Name, string Value)> Decode(ReadOnlySpan<byte> block)
    {
        var fields = new List<(string Name, string Value)>();
        var position = 0;
        while (position < block.Length)
        {
            var first = block[position];
            if ((first & 0xE0) == 0x20)
            {
                UpdateTableSize(block, ref position, fields.Count);
                continue;
            }

            if (fields.Count == _maxBlockFields)
            {
                throw new FormatException($"hpack: more than {_maxBlockFields} fields in the header block");
            }

            (string Name, string Value) field;
            if ((first & 0x80) != 0)
            {
                // §6.1: indexed header field
                field = Lookup(ReadInteger(block, ref position, 7));
                CheckFieldLength(field.Name.Length, field.Value.Length);
            }
            else
            {
                // §6.2.1 (01), §6.2.2 (0000), §6.2.3 (0001): literal header field
                var indexing = (first & 0x40) != 0;
                var nameIndex = ReadInteger(block, ref position, indexing ? 6 : 4);
                var name = nameIndex == 0 ? ReadString(block, ref position, 0) : Lookup(nameIndex).Name;
                var value = ReadString(block, ref position, name.Length);
                field = (name, value);
                if (indexing)
                {
                    Add(field);
                }
            }

            fields.Add(field);
        }

        return fields;
    }

    // §6.3: only before the block's first field; §4.2: at most the size this side announced.
    private void UpdateTableSize(ReadOnlySpan<byte> block, ref int position, int fieldsSoFar)
    {
        if (fieldsSoFar > 0)
        {
            throw new FormatException("hpack: dynamic table size update after the start of the header block");
        }

        var size = ReadInteger(block, ref position, 5);
        if (size > _maxTableSize)
        {
            throw new FormatException($"hpack: dynamic table size update to {size} is above the limit {_maxTableSize}");
        }

        _capacity = size;
        Evict(0);
    }

    // §2.3.3: 1..61 static, 62.. dynamic, newest first.
    private (string Name, string Value) Lookup(int index)
    {
        if (index == 0)
        {
            throw new FormatException("hpack: index 0");
        }

        if (index <= HpackStaticTable.Length)
        {
            return HpackStaticTable.Get(index);
        }

        var dynamic = index - HpackStaticTable.Length;
        if (dynamic > _entries.Count)
        {
            throw new FormatException(
                $"hpack: index {index} is beyond the static and dynamic table ({HpackStaticTable.Length + _entries.Count} entries)");
        }

        return _entries[^dynamic];
    }

    // §4.4: evict until the new entry fits; an entry larger than the table empties it and is not added.
    private void Add((string Name, string Value) entry)
    {
        var entrySize = entry.Name.Length + entry.Value.Length + EntryOverhead;
        if (entrySize > _capacity)
        {
            Evict(_capacity);
            return;
        }

        Evict(entrySize);
        _entries.Add(entry);
        _size += entrySize;
    }

    // §4.3, §4.4: drop the oldest entries until `room` more octets fit.
    private void Evict(int room)
    {
        var evicted = 0;
        while (_size + room > _capacity && evicted < _entries.Count)
        {
            var (name, value) = _entries[evicted++];
            _size -= name.Length + value.Length + EntryOverhead;
        }

        _entries.RemoveRange(0, evicted);
    }

    private void CheckFieldLength(int nameLength, int valueLength)
    {
        if ((long)nameLength + valueLength > _maxFieldBytes)
        {
            throw new FormatException(
                $"hpack: a field of {(long)nameLength + valueLength} octets is longer than the limit {_maxFieldBytes}");
        }
    }

    // §5.2: H flag, 7-bit prefix length, then the octets, raw or Huffman-coded. `nameLength` is
    // the length of the field's name when this is its value, so the limit covers name and value.
    private string ReadString(ReadOnlySpan<byte> block, ref int position, int nameLength)
    {
        if (position >= block.Length)
        {
            throw new FormatException("hpack: truncated string");
        }

        var huffman = (block[position] & 0x80) != 0;
        var length = ReadInteger(block, ref position, 7);
        if (length > block.Length - position)
        {
            throw new FormatException($"hpack: truncated string ({length} octets, {block.Length - position} left in the block)");
        }

        var octets = block.Slice(position, length);
        position += length;
        if (!huffman)
        {
            CheckFieldLength(nameLength, length);
            return Encoding.Latin1.GetString(octets);
        }

        var decoded = new byte[HpackHuffman.MaxDecodedLength(length)];
        var decodedLength = HpackHuffman.Decode(octets, decoded);
        CheckFieldLength(nameLength, decodedLength);
        return Encoding.Latin1.GetString(decoded, 0, decodedLength);
    }

    // §5.1: an N-bit prefix, then 7 bits per continuation octet, least significant first.
    private static int ReadInteger(ReadOnlySpan<byte> block, ref int position, int prefix)
    {
        var max = (1 << prefix) - 1;
        var value = (long)(block[position++] & max);
        if (value < max)
        {
            return (int)value;
        }

        for (var continuation = 0; continuation < MaxIntegerContinuations; continuation++)
        {
            if (position >= block.Length)
            {
                throw new FormatException("hpack: truncated integer");
            }

            var octet = block[position++];
            value += (long)(octet & 0x7F) << (7 * continuation);
            if (value > int.MaxValue)
            {
                throw new FormatException("hpack: integer overflow");
            }

            if ((octet & 0x80) == 0)
            {
                return (int)value;
            }
        }

        throw new FormatException($"hpack: integer overflow (more than {MaxIntegerContinuations} continuation octets)");
    }
}
