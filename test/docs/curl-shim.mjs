// The `curl` the documentation's shell examples run in test/docs: the subset of curl's
// options the docs use, over fetch, so the examples run on a machine without curl. Any
// other option fails loudly: an example the shim cannot run must not pass unnoticed.
// `localhost:8080` is the server under test (DOCS_SERVER); each status is appended to
// CURL_LOG.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
let method;
let url;
let body;
let headersFile;
let outputFile;
const headers = {};

for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  const next = () => {
    if (i + 1 >= args.length) fail(`${arg} needs a value`);
    return args[++i];
  };
  if (arg === '-s' || arg === '--silent') continue;
  else if (arg === '-X' || arg === '--request') method = next();
  else if (arg === '-H' || arg === '--header') {
    const line = next();
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  } else if (arg === '-d' || arg === '--data') {
    const value = next();
    if (value.startsWith('@')) fail('-d @file is not supported by the shim; use --data-binary @file');
    body = Buffer.from(value);
  } else if (arg === '--data-binary') {
    const value = next();
    body = value.startsWith('@') ? readFileSync(value.slice(1)) : Buffer.from(value);
  } else if (arg === '-D' || arg === '--dump-header') headersFile = next();
  else if (arg === '-o' || arg === '--output') outputFile = next();
  else if (arg.startsWith('-')) fail(`unsupported option ${arg}`);
  else if (url === undefined) url = arg;
  else fail(`a second URL ${arg}`);
}
if (url === undefined) fail('no URL');

const server = process.env.DOCS_SERVER;
if (!server) fail('DOCS_SERVER is not set');
const target = (/^https?:\/\//.test(url) ? url : `http://${url}`).replace('http://localhost:8080', server);
if (body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/x-www-form-urlencoded'; // as curl -d
const response = await fetch(target, { method: method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
const bytes = Buffer.from(await response.arrayBuffer());
appendFileSync(process.env.CURL_LOG, `${response.status}\n`);
if (headersFile !== undefined) {
  const lines = [`HTTP/1.1 ${response.status} ${response.statusText}`, ...[...response.headers].map(([name, value]) => `${name}: ${value}`)];
  writeFileSync(headersFile, `${lines.join('\r\n')}\r\n\r\n`);
}
if (outputFile !== undefined) writeFileSync(outputFile, bytes);
else process.stdout.write(bytes);

function fail(message) {
  process.stderr.write(`curl (docs shim): ${message}\n`);
  process.exit(2);
}
