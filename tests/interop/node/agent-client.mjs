// Independent SPIFFE Workload API client for the agent end-to-end tests: @grpc/grpc-js +
// @grpc/proto-loader over the agent's Unix socket, JWT-SVIDs checked with npm's jose.
//
// Usage: node agent-client.mjs <socket path> <mode> [args]
//   x509 [--no-header]        first FetchX509SVID message: {"ok":true,"svids":[{spiffeId,hint,chain,key,bundle}]}
//   jwt <audience>            FetchJWTSVID + first FetchJWTBundles message, token verified with jose
//                             against the JWKS of the token's trust domain:
//                             {"ok":true,"spiffeId","token","sub","aud","trustDomains":[...]}
//   validate <audience> <tok> ValidateJWTSVID: {"ok":true,"spiffeId","sub"}
//   watch <count> <seconds>   FetchX509SVID stream; one line per message as it arrives:
//                             {"event":"message","at":<unix ms>,"svids":[...]}, then
//                             {"event":"done"} after <count> messages, or {"event":"error",code,details},
//                             {"event":"end"} or {"event":"timeout"}
// Failures print {"ok":false,"code":<grpc code>,"details":"..."}; the exit code is 0 either way
// unless the client itself broke (1) or was used wrongly (2).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';

const [socketPath, mode, ...args] = process.argv.slice(2);
if (!socketPath || !mode) {
  console.error('usage: node agent-client.mjs <socket path> x509|jwt|validate|watch [args]');
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
if (!args.includes('--no-header')) {
  metadata.set('workload.spiffe.io', 'true');
}

const b64 = (buf) => Buffer.from(buf).toString('base64');
const print = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const svids = (msg) =>
  msg.svids.map((s) => ({
    spiffeId: s.spiffe_id,
    hint: s.hint,
    chain: b64(s.x509_svid),
    key: b64(s.x509_svid_key),
    bundle: b64(s.bundle),
  }));
const failure = (err) => ({ ok: false, code: err.code, details: err.details });

// Unary call as a promise.
const unary = (method, request) =>
  new Promise((resolve, reject) => client[method](request, metadata, (err, res) => (err ? reject(err) : resolve(res))));

// First message of a server stream as a promise; the stream is cancelled afterwards.
const first = (method, request) =>
  new Promise((resolve, reject) => {
    const call = client[method](request, metadata);
    let settled = false;
    call.on('data', (msg) => {
      if (!settled) {
        settled = true;
        resolve(msg);
        call.cancel();
      }
    });
    call.on('error', (err) => {
      if (!settled) {
        settled = true;
        reject(err);
      }
    });
    call.on('end', () => {
      if (!settled) {
        settled = true;
        reject({ code: -1, details: 'stream ended without a message' });
      }
    });
  });

const trustDomainOf = (spiffeId) => new URL(spiffeId).host;

async function run() {
  switch (mode) {
    case 'x509': {
      const msg = await first('FetchX509SVID', {});
      return { ok: true, svids: svids(msg) };
    }
    case 'jwt': {
      const [audience] = args;
      const res = await unary('FetchJWTSVID', { audience: [audience] });
      const svid = res.svids[0];
      const bundles = await first('FetchJWTBundles', {});
      const td = trustDomainOf(decodeJwt(svid.svid).sub);
      const raw = bundles.bundles[td] ?? bundles.bundles[`spiffe://${td}`];
      if (!raw) {
        return { ok: false, code: -1, details: `no jwt bundle for ${td}` };
      }
      // A SPIFFE bundle marks JWT authorities "use": "jwt-svid" (SPIFFE Trust Domain and Bundle
      // §4.2.1); jose only considers keys without "use" or with "sig", so keep the jwt-svid keys
      // and present them as signing keys.
      const served = JSON.parse(Buffer.from(raw).toString('utf8'));
      const keys = served.keys.filter((k) => k.use === undefined || k.use === 'jwt-svid').map((k) => ({ ...k, use: 'sig' }));
      const jwks = createLocalJWKSet({ keys });
      const { payload } = await jwtVerify(svid.svid, jwks, { audience });
      return {
        ok: true,
        spiffeId: svid.spiffe_id,
        token: svid.svid,
        sub: payload.sub,
        aud: payload.aud,
        trustDomains: Object.keys(bundles.bundles),
      };
    }
    case 'validate': {
      const [audience, token] = args;
      const res = await unary('ValidateJWTSVID', { audience, svid: token });
      return { ok: true, spiffeId: res.spiffe_id, sub: res.claims?.fields?.sub?.string_value ?? res.claims?.fields?.sub?.stringValue ?? null };
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

function watch() {
  const count = Number(args[0] ?? '2');
  const seconds = Number(args[1] ?? '120');
  let seen = 0;
  let done = false;
  const call = client.FetchX509SVID({}, metadata);
  const stop = (event) => {
    if (done) return;
    done = true;
    print(event);
    call.cancel();
    client.close();
  };
  call.on('data', (msg) => {
    if (done) return;
    print({ event: 'message', at: Date.now(), svids: svids(msg) });
    if (++seen >= count) stop({ event: 'done' });
  });
  call.on('error', (err) => stop({ event: 'error', code: err.code, details: err.details }));
  call.on('end', () => stop({ event: 'end' }));
  setTimeout(() => stop({ event: 'timeout' }), seconds * 1000).unref();
}

if (mode === 'watch') {
  watch();
} else {
  run()
    .then((result) => print(result), (err) => print(typeof err?.code === 'number' ? failure(err) : { ok: false, code: -1, details: String(err?.message ?? err) }))
    .finally(() => client.close());
}
