// An independent HTTP/2 client of an Anchorage inbound gate in tunnel mode (docs/gate-transport.md),
// built on Node's own http2 module (nghttp2): mTLS offering ALPN anchorage-tunnel/1, then on one
// session a plain GET (not an extended CONNECT: the gate must answer 400 on that stream alone) and
// COUNT RFC 8441 extended CONNECT streams (:protocol connect-tcp) at once. nghttp2 Huffman-codes
// the header strings and indexes repeated fields in its dynamic table, so the later streams' header
// blocks refer to entries the earlier ones added. Each stream sends the payload (hex, argv), ends its
// side (END_STREAM) and reads until the gate ends the response. Prints one JSON line:
// {"enableConnectProtocol":true,"maxConcurrentStreams":100,"getStatus":400,"statuses":[200,...],"received":["<hex>",...]}.
// Usage: node tunnel-client.mjs PORT CERT_PEM KEY_PEM AUTHORITY PAYLOAD_HEX [COUNT]
import http2 from 'node:http2';
import tls from 'node:tls';
import fs from 'node:fs';

const [port, certFile, keyFile, authority, payloadHex, countArg] = process.argv.slice(2);
const count = Number(countArg ?? '1');
const result = { statuses: [], received: [] };
const fail = (message) => { console.log(JSON.stringify({ ...result, error: message })); process.exit(1); };
setTimeout(() => fail('timed out'), 30000).unref();

const session = http2.connect(`https://127.0.0.1:${port}`, {
  createConnection: () => tls.connect({
    host: '127.0.0.1',
    port: Number(port),
    cert: fs.readFileSync(certFile),
    key: fs.readFileSync(keyFile),
    ALPNProtocols: ['anchorage-tunnel/1'],
    // The gate's SVID has no DNS name; what is under test is the gate's side, which verifies this client.
    rejectUnauthorized: false,
  }),
});
session.on('error', (e) => fail(`session: ${e.message}`));

// One extended CONNECT stream: resolves with its status and what the gate sent back.
const connect = (index) => new Promise((resolve, reject) => {
  const stream = session.request({
    ':method': 'CONNECT',
    ':protocol': 'connect-tcp',
    ':scheme': 'https',
    ':path': '/',
    ':authority': authority,
    'anchorage-connection-id': `node-${index}`,
  }, { endStream: false });
  const chunks = [];
  let status;
  stream.on('response', (headers) => {
    status = headers[':status'];
    if (status === 200) stream.end(Buffer.from(payloadHex, 'hex'));
  });
  stream.on('data', (chunk) => chunks.push(chunk));
  stream.on('end', () => resolve({ status, received: Buffer.concat(chunks).toString('hex') }));
  stream.on('error', (e) => reject(new Error(`stream ${index}: ${e.message}`)));
});

// A request that is not an extended CONNECT: answered on its own stream.
const get = () => new Promise((resolve, reject) => {
  const stream = session.request({ ':method': 'GET', ':path': '/', ':authority': authority, ':scheme': 'https' });
  stream.on('response', (headers) => resolve(headers[':status']));
  stream.on('error', (e) => reject(new Error(`get: ${e.message}`)));
  stream.resume();
});

session.once('remoteSettings', async (settings) => {
  result.enableConnectProtocol = settings.enableConnectProtocol === true;
  result.maxConcurrentStreams = settings.maxConcurrentStreams;
  try {
    result.getStatus = await get();
    const streams = await Promise.all(Array.from({ length: count }, (_, i) => connect(i + 1)));
    result.statuses = streams.map((s) => s.status);
    result.received = streams.map((s) => s.received);
  } catch (e) {
    fail(e.message);
  }
  console.log(JSON.stringify(result));
  session.close();
});
