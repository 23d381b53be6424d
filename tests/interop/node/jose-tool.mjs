// Independent JWT producer and verifier for Anchorage's interop tests, built on npm's `jose`.
// Reads one JSON request on stdin, writes one JSON answer on stdout.
//
//   node jose-tool.mjs mint    {"alg":"ES256","kid":"k1"?,"typ":"JWT"?,"privateKeyPem":"-----BEGIN PRIVATE KEY-----...","claims":{...}}
//                              -> {"token":"..."}
//   node jose-tool.mjs verify  {"token":"...","jwks":{"keys":[...]},"audience":"x","algorithms":["ES256",...]?,"currentDate":<unix seconds>?}
//                              -> {"ok":true,"header":{...},"payload":{...}} or {"ok":false,"code":"...","error":"..."}
//
// Exit code: 0 when the request was carried out (also when a token does not verify), 2 on a bad request.
import { createLocalJWKSet, importPKCS8, jwtVerify, SignJWT } from 'jose';

const MINT_ALGS = new Set(['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']);

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function mint(req) {
  if (!MINT_ALGS.has(req.alg)) throw new Error(`unsupported alg ${req.alg}`);
  const key = await importPKCS8(req.privateKeyPem, req.alg);
  const header = { alg: req.alg };
  if (req.kid) header.kid = req.kid;
  if (req.typ) header.typ = req.typ;
  // Claims are signed exactly as given (sub, aud, exp, iat, ...): the caller controls time.
  const token = await new SignJWT(req.claims).setProtectedHeader(header).sign(key);
  return { token };
}

async function verify(req) {
  const jwks = createLocalJWKSet(req.jwks);
  const options = {
    audience: req.audience,
    algorithms: req.algorithms ?? [...MINT_ALGS],
    requiredClaims: ['sub', 'aud', 'exp'],
    typ: undefined,
  };
  if (req.currentDate !== undefined) options.currentDate = new Date(req.currentDate * 1000);
  try {
    const { payload, protectedHeader } = await jwtVerify(req.token, jwks, options);
    return { ok: true, header: protectedHeader, payload };
  } catch (err) {
    return { ok: false, code: err.code ?? 'ERR', error: String(err.message) };
  }
}

const command = process.argv[2];
try {
  const req = await readStdin();
  let answer;
  if (command === 'mint') answer = await mint(req);
  else if (command === 'verify') answer = await verify(req);
  else throw new Error(`unknown command ${command}; use mint or verify`);
  process.stdout.write(JSON.stringify(answer));
} catch (err) {
  process.stderr.write(`jose-tool: ${err.message}\n`);
  process.exit(2);
}
