// The agent's Workload API, SDS and server reflection driven by node's grpc-js: an HTTP/2 and
// gRPC implementation that shares no code with gRPC C-core (which the C++ and Python clients
// use). Usage: node workload_grpc_js.js --socket S --trust-domain T --spiffe-id ID
// Prints "ok <check>" per check and "all checks passed"; exits 1 at the first failure.
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
const protoDir = path.resolve(__dirname, '../../../proto');
const load = (file) => grpc.loadPackageDefinition(loader.loadSync(file, {
  includeDirs: [protoDir], keepCase: true, longs: String, defaults: true, oneofs: true,
}));
const workload = load('workload.proto');
const sds = load('envoy/sds_service.proto');
const reflection = load('grpc/reflection/v1/reflection.proto');

function fail(why) {
  console.log(`FAIL ${why}`);
  process.exit(1);
}
function check(name, condition, why) {
  if (!condition) fail(`${name}: ${why}`);
  console.log(`ok ${name}`);
}
const header = () => {
  const m = new grpc.Metadata();
  m.set('workload.spiffe.io', 'true');
  return m;
};
const deadline = () => new Date(Date.now() + 10000);
const unary = (client, method, request, metadata) => new Promise((resolve) => {
  client[method](request, metadata, { deadline: deadline() }, (err, resp) => resolve({ err, resp }));
});
const first = (stream) => new Promise((resolve) => {
  let done = false;
  stream.on('data', (m) => { if (!done) { done = true; resolve({ message: m }); stream.cancel(); } });
  stream.on('error', (err) => { if (!done) { done = true; resolve({ err }); } });
  stream.on('end', () => { if (!done) { done = true; resolve({ err: new Error('ended') }); } });
});

async function main() {
  const target = `unix:${args.socket}`;
  const own = `spiffe://${args['trust-domain']}`;
  const api = new workload.SpiffeWorkloadAPI(target, grpc.credentials.createInsecure());

  let r = await first(api.FetchX509SVID({}, new grpc.Metadata(), { deadline: deadline() }));
  check('no security header: InvalidArgument',
        r.err && r.err.code === grpc.status.INVALID_ARGUMENT, `got ${r.err && r.err.code}`);

  r = await first(api.FetchX509SVID({}, header(), { deadline: deadline() }));
  check('FetchX509SVID streams the SVID', !r.err && r.message.svids.length >= 1 &&
        r.message.svids[0].spiffe_id === args['spiffe-id'] && r.message.svids[0].x509_svid.length > 0 &&
        r.message.svids[0].x509_svid_key.length > 0 && r.message.svids[0].bundle.length > 0,
        JSON.stringify(r.err || r.message.svids.map((s) => s.spiffe_id)));

  r = await first(api.FetchX509Bundles({}, header(), { deadline: deadline() }));
  check('FetchX509Bundles has the own trust domain', !r.err && r.message.bundles[own] &&
        r.message.bundles[own].length > 0, JSON.stringify(r.err || Object.keys(r.message.bundles)));

  r = await first(api.FetchJWTBundles({}, header(), { deadline: deadline() }));
  const jwks = !r.err && JSON.parse(Buffer.from(r.message.bundles[own]).toString());
  check('FetchJWTBundles is a JWKS with kid', jwks && jwks.keys.length > 0 && jwks.keys.every((k) => k.kid),
        JSON.stringify(r.err || jwks));

  let u = await unary(api, 'FetchJWTSVID', { audience: ['node-aud'] }, header());
  check('FetchJWTSVID', !u.err && u.resp.svids.length >= 1 && u.resp.svids[0].spiffe_id === args['spiffe-id'],
        JSON.stringify(u.err || u.resp));
  const token = u.resp.svids[0].svid;
  u = await unary(api, 'ValidateJWTSVID', { audience: 'node-aud', svid: token }, header());
  const aud = u.resp && u.resp.claims && u.resp.claims.fields.aud;
  check('ValidateJWTSVID returns the ID and aud as a list', !u.err && u.resp.spiffe_id === args['spiffe-id'] &&
        aud && aud.listValue && aud.listValue.values[0].stringValue === 'node-aud',
        JSON.stringify(u.err || u.resp));
  u = await unary(api, 'ValidateJWTSVID', { audience: 'other', svid: token }, header());
  check('ValidateJWTSVID with the wrong audience: InvalidArgument',
        u.err && u.err.code === grpc.status.INVALID_ARGUMENT, JSON.stringify(u.err || u.resp));
  u = await unary(api, 'FetchJWTSVID', { audience: ['x'.repeat(70 * 1024)] }, header());
  check('a 70 KiB request: ResourceExhausted', u.err && u.err.code === grpc.status.RESOURCE_EXHAUSTED,
        JSON.stringify(u.err || u.resp));

  // A method the agent does not serve (the optional WIT RPCs, anything else).
  const raw = new grpc.Client(target, grpc.credentials.createInsecure());
  const unknown = await new Promise((resolve) => raw.makeUnaryRequest(
    '/SpiffeWorkloadAPI/FetchNothing', (b) => b, (b) => b, Buffer.alloc(0), header(),
    { deadline: deadline() }, (err) => resolve(err)));
  check('an unknown method: Unimplemented', unknown && unknown.code === grpc.status.UNIMPLEMENTED,
        JSON.stringify(unknown));

  // Server reflection, v1.
  const refl = new reflection.grpc.reflection.v1.ServerReflection(target, grpc.credentials.createInsecure());
  const services = await new Promise((resolve) => {
    const call = refl.ServerReflectionInfo({ deadline: deadline() });
    call.on('data', (m) => { resolve(m); call.end(); });
    call.on('error', (err) => resolve({ err }));
    call.write({ list_services: '' });
  });
  const names = services.list_services_response ? services.list_services_response.service.map((s) => s.name) : [];
  check('reflection (v1) lists the services', names.includes('SpiffeWorkloadAPI') &&
        names.includes('envoy.service.secret.v3.SecretDiscoveryService'), JSON.stringify(services.err || names));

  // Envoy SDS: subscribe, get the certificate, ACK, then close.
  const secrets = new sds.envoy.service.secret.v3.SecretDiscoveryService(target, grpc.credentials.createInsecure());
  const sdsResult = await new Promise((resolve) => {
    const call = secrets.StreamSecrets({ deadline: deadline() });
    let got = null;
    call.on('data', (m) => {
      got = m;
      call.write({ resource_names: ['default'], version_info: m.version_info, response_nonce: m.nonce });
      call.end();
    });
    call.on('error', (err) => resolve({ err, got }));
    call.on('end', () => resolve({ got }));
    call.write({ resource_names: ['default'] });
  });
  check('SDS StreamSecrets sends the tls_certificate and ends cleanly after the ACK',
        !sdsResult.err && sdsResult.got && sdsResult.got.resources.length === 1 &&
        sdsResult.got.resources[0].type_url.endsWith('tls.v3.Secret'),
        JSON.stringify(sdsResult.err || sdsResult.got));

  // Many calls at once on one connection (HTTP/2 multiplexing, flow control).
  const many = await Promise.all(Array.from({ length: 200 }, () =>
    unary(api, 'FetchJWTSVID', { audience: ['node-aud'] }, header())));
  check('200 concurrent FetchJWTSVID calls on one connection', many.every((x) => !x.err && x.resp.svids[0].svid === token),
        JSON.stringify(many.find((x) => x.err)));
  console.log('all checks passed');
  process.exit(0);
}
main().catch((e) => fail(e.stack));
