// Independent SPIFFE Workload API client for Anchorage interop tests: @grpc/grpc-js +
// @grpc/proto-loader load proto/workload.proto and call FetchX509SVID over a Unix socket.
//
// Usage: node workload-client.mjs <socket path> [--no-header]
// Prints one JSON line: {"ok":true,"svids":[{spiffeId,hint,chain,key,bundle}],"federatedBundles":{...}}
// (DER as base64) for the first stream message, or {"ok":false,"code":<grpc code>,"details":"..."}.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const [socketPath, flag] = process.argv.slice(2);
if (!socketPath) {
  console.error('usage: node workload-client.mjs <socket path> [--no-header]');
  process.exit(2);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const protoDir = path.resolve(here, '..', '..', '..', 'proto');
const definition = protoLoader.loadSync(path.join(protoDir, 'workload.proto'), {
  includeDirs: [protoDir],
  keepCase: true,
  longs: String,
  defaults: true,
});
const api = grpc.loadPackageDefinition(definition);
const client = new api.SpiffeWorkloadAPI(`unix://${socketPath}`, grpc.credentials.createInsecure());

const metadata = new grpc.Metadata();
if (flag !== '--no-header') {
  metadata.set('workload.spiffe.io', 'true');
}

const b64 = (buf) => Buffer.from(buf).toString('base64');
let done = false;
const finish = (result, code = 0) => {
  if (done) return;
  done = true;
  process.stdout.write(JSON.stringify(result) + '\n');
  call.cancel();
  client.close();
  process.exitCode = code;
};

const call = client.FetchX509SVID({}, metadata);
call.on('data', (msg) => {
  finish({
    ok: true,
    svids: msg.svids.map((s) => ({
      spiffeId: s.spiffe_id,
      hint: s.hint,
      chain: b64(s.x509_svid),
      key: b64(s.x509_svid_key),
      bundle: b64(s.bundle),
    })),
    federatedBundles: Object.fromEntries(Object.entries(msg.federated_bundles).map(([k, v]) => [k, b64(v)])),
  });
});
call.on('error', (err) => finish({ ok: false, code: err.code, details: err.details }));
call.on('end', () => finish({ ok: false, code: -1, details: 'stream ended without a message' }, 1));
setTimeout(() => finish({ ok: false, code: -1, details: 'timed out' }, 1), 20000).unref();
