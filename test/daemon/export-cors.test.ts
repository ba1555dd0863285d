/**
 * CORS on the daemon's /export/* (http.exportOrigins), against a real daemon process: a
 * listed page origin gets its preflight answered (Authorization allowed) and may read the
 * export, with the token still required; any other origin gets no CORS headers; the rest
 * of the API never answers a preflight. A bad origin in the config is refused at start.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { EXPORT_MODEL_JSON } from '../../node/daemon/http.ts';
import { DaemonProcess, killAll, runToExit, smallConfig, tempDir, waitFor, writeConfig } from './harness.ts';

const tmp = tempDir('meshfl-export-cors-');
after(async () => {
  await killAll();
  tmp.remove();
});

const PAGE = 'http://localhost:5173';
const OTHER = 'https://elsewhere.example';
const TOKEN = 'cors-test-token';
/** One request's hang guard. */
const REQUEST_TIMEOUT_MS = 10_000;

async function request(url: string, init: RequestInit): Promise<Response> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  await res.arrayBuffer();
  return res;
}

const preflight = (origin: string): RequestInit => ({
  method: 'OPTIONS',
  headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
});

test('daemon: http.exportOrigins lets a listed page load /export/* with the token, and no one else', async () => {
  const dataDir = path.join(tmp.dir, 'a');
  const config = writeConfig(tmp.dir, 'a.json', {
    ...smallConfig(dataDir, 0),
    http: { address: '127.0.0.1:0', token: TOKEN, exportOrigins: [PAGE] },
    // Alone: rounds close at the deadline; keep them short so a checkpoint comes soon.
    round: { localSteps: 2, minFreshUpdates: 1, deadline: { initialMs: 300, minMs: 100, maxMs: 300 } },
    checkpoints: { keep: 2, every: 1 },
  });
  const d = new DaemonProcess(['--config', config]);
  await d.waitForLog((l) => l.msg === 'http listening', 'http listening');
  const url = `${d.httpUrl}${EXPORT_MODEL_JSON}`;
  const auth = { authorization: `Bearer ${TOKEN}` };

  const ok = await request(url, preflight(PAGE));
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get('access-control-allow-origin'), PAGE);
  assert.match(ok.headers.get('access-control-allow-headers') ?? '', /authorization/i);
  assert.match(ok.headers.get('access-control-allow-methods') ?? '', /\bGET\b/);
  assert.equal(ok.headers.get('vary'), 'Origin');

  for (const [what, res] of [
    ['an unlisted origin', await request(url, preflight(OTHER))],
    ['/status', await request(`${d.httpUrl}/status`, preflight(PAGE))],
  ] as const) {
    assert.equal(res.status, 405, `preflight from ${what}`);
    assert.equal(res.headers.get('access-control-allow-origin'), null, `no CORS for ${what}`);
  }

  // The token is still required; the page may read the refusal.
  const noToken = await request(url, { headers: { origin: PAGE } });
  assert.equal(noToken.status, 401);
  assert.equal(noToken.headers.get('access-control-allow-origin'), PAGE);

  await waitFor(
    async () => (await d.get(EXPORT_MODEL_JSON, auth)).status === 200,
    'a checkpoint to export',
    undefined,
    () => d.tail(),
  );
  for (const file of [EXPORT_MODEL_JSON, '/export/weights.bin']) {
    const listed = await request(`${d.httpUrl}${file}`, { headers: { ...auth, origin: PAGE } });
    assert.equal(listed.status, 200, file);
    assert.equal(listed.headers.get('access-control-allow-origin'), PAGE, file);
    const other = await request(`${d.httpUrl}${file}`, { headers: { ...auth, origin: OTHER } });
    assert.equal(other.status, 200, `${file}: the token decides access; CORS only decides what a browser may read`);
    assert.equal(other.headers.get('access-control-allow-origin'), null, file);
  }
  // What the page does (Node's fetch does not enforce CORS; the headers above are what a browser checks).
  const lm = await tf.loadLayersModel(url, { requestInit: { headers: { ...auth, origin: PAGE } } });
  assert.equal(lm.outputs[0]?.shape.at(-1), 10, 'the synthetic task has 10 classes');
  lm.dispose();
});

test('daemon: an http.exportOrigins entry that is not an origin is refused at start, naming the key', async () => {
  for (const [bad, why] of [
    ['https://example.org/', /http\.exportOrigins\[0\].*no path.*"https:\/\/example\.org\/"/s],
    ['*', /http\.exportOrigins\[0\].*"\*"/s],
    ['file:///tmp/page.html', /http\.exportOrigins\[0\].*http or https/s],
  ] as const) {
    const config = writeConfig(tmp.dir, 'bad.json', {
      ...smallConfig(path.join(tmp.dir, 'bad'), 0),
      http: { address: '127.0.0.1:0', exportOrigins: [bad] },
    });
    const r = await runToExit(['--config', config]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, why);
  }
});
