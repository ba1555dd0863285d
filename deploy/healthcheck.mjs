// The container image's HEALTHCHECK (Dockerfile): exit 0 when the daemon's GET /health
// answers 200 (ready), 1 otherwise: no answer, 401 (MESHFL_HTTP_TOKEN missing or wrong), or
// 503 (starting, stopping, or no peer connected for http.notReadyAfterNoPeersSeconds).
// The port follows MESHFL_HTTP when it is set (the daemon's own override), else 9464.
// Plain JavaScript for the image's Node: no dependencies, no TypeScript.
const TIMEOUT_MS = 8_000; // below the HEALTHCHECK --timeout (10 s)
const port = /:(\d+)$/.exec(process.env.MESHFL_HTTP ?? '')?.[1] ?? '9464';
const url = process.env.MESHFL_HEALTH_URL ?? `http://127.0.0.1:${port}/health`;
const token = process.env.MESHFL_HTTP_TOKEN;
try {
  const res = await fetch(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const body = (await res.text()).slice(0, 300);
  if (res.status !== 200) {
    console.error(`${url}: HTTP ${res.status} ${body}`);
    process.exit(1);
  }
  console.log(body);
} catch (error) {
  console.error(`${url}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
