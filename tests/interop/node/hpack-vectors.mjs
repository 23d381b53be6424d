// Independent HPACK test vectors from Node's http2 module (nghttp2's encoder), for
// tests/Anchorage.Agent.Tests/Gate/Transport/HpackDecoderTests.cs. A plain TCP server captures what
// an http2 client (prior knowledge, cleartext) sends for three requests on one connection; the server
// never answers, so nghttp2 keeps its default 4096-octet dynamic table and indexes, Huffman-codes and
// (for short cookie/authorization values) never-indexes as it would towards any peer. Prints JSON:
// {"blocks":[{"hex":"<header block>","fields":[[name,value],...]}]}, the fields being exactly the
// headers this script asked for, in order. Made with:
//   node tests/interop/node/hpack-vectors.mjs > tests/Anchorage.Agent.Tests/Gate/Transport/hpack-node-vectors.json
import http2 from 'node:http2';
import net from 'node:net';

const long = 'Mozilla/5.0 (X11; Linux x86_64) anchorage-interop '.repeat(6).trim();
const requests = [
  {
    ':method': 'GET', ':scheme': 'http', ':authority': 'payments.acme.corp:8443', ':path': '/api/v1/items?q=hello%20world&page=2',
    'user-agent': long,
    'accept': 'application/json',
    'x-trace-id': '4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7',
    'cookie': 'sid=a1',
    'authorization': 'Bearer abc',
    'x-long': 'the quick brown fox jumps over the lazy dog; '.repeat(20).trim(),
  },
  {
    ':method': 'POST', ':scheme': 'http', ':authority': 'payments.acme.corp:8443', ':path': '/api/v1/items',
    'user-agent': long,
    'accept': 'application/json',
    'content-type': 'application/json',
    'x-trace-id': '4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8',
    'x-symbols': '~{}|^`<>\\[]@$#!"\'()*+,;=?',
  },
  {
    ':method': 'GET', ':scheme': 'http', ':authority': 'payments.acme.corp:8443', ':path': '/api/v1/items?q=hello%20world&page=3',
    'user-agent': long,
    'accept': 'application/json',
    'x-trace-id': '4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7',
    'cookie': 'sid=a1',
    'authorization': 'Bearer abc',
    'x-long': 'the quick brown fox jumps over the lazy dog; '.repeat(20).trim(),
  },
];

const chunks = [];
const server = net.createServer((socket) => socket.on('data', (data) => chunks.push(data)));
server.listen(0, '127.0.0.1', () => {
  const session = http2.connect(`http://127.0.0.1:${server.address().port}`);
  session.on('error', () => {});
  for (const headers of requests) {
    session.request(headers, { endStream: true }).on('error', () => {});
  }

  setTimeout(() => {
    session.destroy();
    server.close();
    const blocks = headerBlocks(Buffer.concat(chunks));
    if (blocks.length !== requests.length) {
      console.error(`expected ${requests.length} header blocks, captured ${blocks.length}`);
      process.exit(1);
    }

    const out = blocks.map((block, i) => ({ hex: block.toString('hex'), fields: Object.entries(requests[i]) }));
    console.log(JSON.stringify({ blocks: out }, null, 1));
  }, 500);
});

// RFC 9113 §3.4, §4.1, §6.2, §6.10: after the preface, each HEADERS fragment (less padding and
// priority) joined with its CONTINUATION fragments until END_HEADERS.
function headerBlocks(bytes) {
  const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
  if (bytes.subarray(0, preface.length).toString('latin1') !== preface) throw new Error('no client preface');
  const blocks = [];
  let open = null;
  for (let at = preface.length; at + 9 <= bytes.length;) {
    const length = bytes.readUIntBE(at, 3);
    const type = bytes[at + 3];
    const flags = bytes[at + 4];
    let payload = bytes.subarray(at + 9, at + 9 + length);
    at += 9 + length;
    if (type === 0x1) {
      let start = 0;
      let end = payload.length;
      if (flags & 0x8) { end -= payload[0]; start += 1; }
      if (flags & 0x20) start += 5;
      payload = payload.subarray(start, end);
      open = [payload];
    } else if (type === 0x9) {
      open.push(payload);
    } else {
      continue;
    }

    if (flags & 0x4) { blocks.push(Buffer.concat(open)); open = null; }
  }

  return blocks;
}
