// An independent HTTP/2 client of an Anchorage inbound gate in tunnel mode (docs/gate-transport.md),
// built on Node's own http2 module (nghttp2): mTLS offering ALPN anchorage-tunnel/1, then one
// RFC 8441 extended CONNECT stream (:protocol connect-tcp). It sends the payload (hex, argv),
// ends its side (END_STREAM), reads until the gate ends the response and prints one JSON line:
// {"status":200,"enableConnectProtocol":true,"maxConcurrentStreams":100,"received":"<hex>"}.
// Usage: node tunnel-client.mjs PORT CERT_PEM KEY_PEM AUTHORITY PAYLOAD_HEX
import http2 from 'node:http2';
import tls from 'node:tls';
import fs from 'node:fs';

const [port, certFile, keyFile, authority, payloadHex] = process.argv.slice(2);
const result = {};
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
session.on('remoteSettings', (settings) => {
  if (result.status !== undefined || result.started) return;
  result.started = true;
  result.enableConnectProtocol = settings.enableConnectProtocol === true;
  result.maxConcurrentStreams = settings.maxConcurrentStreams;
  const stream = session.request({
    ':method': 'CONNECT',
    ':protocol': 'connect-tcp',
    ':scheme': 'https',
    ':path': '/',
    ':authority': authority,
    'anchorage-connection-id': 'node-1',
  }, { endStream: false });
  const chunks = [];
  stream.on('response', (headers) => {
    result.status = headers[':status'];
    if (result.status !== 200) return;
    stream.end(Buffer.from(payloadHex, 'hex'));
  });
  stream.on('data', (chunk) => chunks.push(chunk));
  stream.on('end', () => {
    result.received = Buffer.concat(chunks).toString('hex');
    delete result.started;
    console.log(JSON.stringify(result));
    session.close();
  });
  stream.on('error', (e) => fail(`stream: ${e.message}`));
});
