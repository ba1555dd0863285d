/**
 * The daemon's HTTP endpoints (node:http): /health, /metrics, /status, /task, the merged
 * model as a tfjs LayersModel directory at /export/model.json (+ /export/weights.bin), and
 * the built web page at /. With a bearer token configured, /health, /metrics, /status and
 * /export/* demand `Authorization: Bearer <token>`; /task (the TaskSpec every participant
 * needs, no secrets) and the static page stay public, so a page can join without the token.
 * Pages on the origins in `exportOrigins` may fetch /export/* cross-origin (CORS, with the
 * token in an Authorization header, which the preflight allows).
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type LayersModelFiles, WEIGHTS_FILE } from '../../src/model/export.ts';
import { bindErrorCode, ListenError } from './errors.ts';
import type { Logger } from './logger.ts';
import type { MetricsExposition } from './metrics.ts';
import { hasBuiltPage, readStatic } from './static-files.ts';

/**
 * The page is served cross-origin isolated, so tfjs-wasm in it may use SharedArrayBuffer:
 * the threaded SIMD binary (docs/PERFORMANCE.md "Browser peer"). The page loads only
 * same-origin files; WebSockets and WebRTC are not subject to COEP.
 */
const CROSS_ORIGIN_ISOLATION = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
} as const;

export interface Health {
  readonly ready: boolean;
  readonly body: Readonly<Record<string, unknown>>;
}

export interface HttpHandlers {
  health(): Health;
  /** The Prometheus exposition; a rejection is logged and answered 500, like any failed request. */
  metrics(): Promise<MetricsExposition>;
  status(): Readonly<Record<string, unknown>>;
  /** The TaskSpec's canonical JSON, or undefined while it is not known yet (a joining daemon). */
  task(): string | undefined;
  /** The merged model (newest checkpoint) as LayersModel files, or undefined before the first checkpoint. */
  exportModel(): Promise<LayersModelFiles | undefined>;
}

/** Paths of the exported model: tf.loadLayersModel(`${base}${EXPORT_MODEL_JSON}`) fetches the weights beside it. */
export const EXPORT_MODEL_JSON = '/export/model.json';
const EXPORT_WEIGHTS = `/export/${WEIGHTS_FILE}`;

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly token: string | undefined;
  /** Origins whose pages may fetch /export/* (exact match of the `Origin` header); empty = none. */
  readonly exportOrigins: readonly string[];
  /** Directory of the built web page (served at / when it holds an index.html). */
  readonly staticRoot: string;
  readonly handlers: HttpHandlers;
  readonly logger: Logger;
}

export interface RunningHttpServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** How long a browser may cache an /export/* preflight answer (seconds). */
export const EXPORT_PREFLIGHT_MAX_AGE_S = 600;

/** How long close() waits for open requests before cutting their connections. */
export const HTTP_CLOSE_GRACE_MS = 1000;

const NOT_BUILT =
  'meshfl daemon: the web page is not built (build browser/ to serve it here). Endpoints: /health /metrics /status /task /export/model.json\n';

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const { handlers, logger } = options;
  const token = options.token === undefined ? undefined : Buffer.from(`Bearer ${options.token}`);
  const authorized = (req: IncomingMessage): boolean => {
    if (token === undefined) return true;
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === token.length && timingSafeEqual(given, token);
  };

  const exportOrigins = new Set(options.exportOrigins);
  /** CORS headers for an /export/* answer to this request: only for a listed Origin. */
  const exportCors = (req: IncomingMessage): Record<string, string> => {
    const origin = req.headers.origin;
    if (origin === undefined || !exportOrigins.has(origin)) return {};
    return { 'access-control-allow-origin': origin, vary: 'Origin' };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://daemon');
    const isExport = url.pathname.startsWith('/export/');
    if (req.method === 'OPTIONS' && isExport) {
      // A preflight carries no Authorization (browsers never send credentials on it): it
      // only says which origin, method and headers may follow; the GET itself needs the token.
      const cors = exportCors(req);
      if ('access-control-allow-origin' in cors) {
        send(res, 204, 'text/plain; charset=utf-8', '', {
          ...cors,
          'access-control-allow-methods': 'GET, HEAD',
          'access-control-allow-headers': 'authorization',
          'access-control-max-age': String(EXPORT_PREFLIGHT_MAX_AGE_S),
        });
        return;
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    const api = url.pathname === '/health' || url.pathname === '/metrics' || url.pathname === '/status' || isExport;
    if (api && !authorized(req)) {
      // A listed page may read the 401 (and tell its user the token is wrong).
      send(res, 401, 'text/plain; charset=utf-8', 'unauthorized\n', {
        'www-authenticate': 'Bearer',
        ...(isExport ? exportCors(req) : {}),
      });
      return;
    }
    switch (url.pathname) {
      case '/health': {
        const health = handlers.health();
        send(res, health.ready ? 200 : 503, 'application/json', `${JSON.stringify(health.body)}\n`);
        return;
      }
      case '/metrics': {
        const metrics = await handlers.metrics();
        send(res, 200, metrics.contentType, metrics.body);
        return;
      }
      case '/status':
        send(res, 200, 'application/json', `${JSON.stringify(handlers.status(), null, 2)}\n`);
        return;
      case '/task': {
        const task = handlers.task();
        if (task === undefined) send(res, 503, 'application/json', '{"error":"the task is not known yet"}\n');
        // Public and read-only: a page on another origin (a dev server) may read it.
        else send(res, 200, 'application/json', task, { 'access-control-allow-origin': '*' });
        return;
      }
      case EXPORT_MODEL_JSON:
      case EXPORT_WEIGHTS: {
        // Both files come from one checkpoint at a time; a model.json of an older round
        // loads a newer weights file as well (the topology and manifest do not change).
        const files = await handlers.exportModel();
        const cors = exportCors(req);
        if (files === undefined) send(res, 503, 'application/json', '{"error":"no checkpoint to export yet"}\n', cors);
        else if (url.pathname === EXPORT_MODEL_JSON)
          send(res, 200, 'application/json', JSON.stringify(files.modelJson), cors);
        else send(res, 200, 'application/octet-stream', files.weights, cors);
        return;
      }
      default:
        break;
    }
    if (!(await hasBuiltPage(options.staticRoot))) {
      if (url.pathname === '/') send(res, 200, 'text/plain; charset=utf-8', NOT_BUILT);
      else send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
      return;
    }
    const file = await readStatic(options.staticRoot, url.pathname);
    switch (file.kind) {
      case 'file':
        send(res, 200, file.contentType, file.body, { 'x-content-type-options': 'nosniff', ...CROSS_ORIGIN_ISOLATION });
        return;
      case 'bad-path':
        send(res, 400, 'text/plain; charset=utf-8', 'bad path\n');
        return;
      case 'not-found':
        send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
        return;
      default: {
        const never: never = file;
        throw new Error(`unhandled static result ${JSON.stringify(never)}`);
      }
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error('http request failed', { path: req.url, error: err instanceof Error ? err : String(err) });
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  await listen(server, options.host, options.port);
  const address = server.address() as AddressInfo;
  return {
    host: address.address,
    port: address.port,
    close: () => close(server),
  };
}

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': bytes.byteLength,
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : bytes);
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      const code = bindErrorCode(err);
      reject(
        code
          ? new ListenError(
              `http.address ${host}:${port}: cannot listen (${code}${code === 'EADDRINUSE' ? ': port already in use' : ''})`,
            )
          : err,
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const cut = setTimeout(() => server.closeAllConnections(), HTTP_CLOSE_GRACE_MS);
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}
