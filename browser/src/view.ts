/** Renders the AppState into the page (text only through textContent: peer data is untrusted). */
import { accuracyChart, perClassChart } from './chart.ts';
import type { LinkState } from './daemon-link.ts';
import type { AppState, Phase } from './state.ts';

function $(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`page element #${id} is missing`);
  return found;
}

function short(peer: string): string {
  return peer.length > 14 ? `…${peer.slice(-10)}` : peer;
}

function pct(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? '–' : `${(v * 100).toFixed(1)}%`;
}

/** Merge rejections by reason, most frequent first: "no-progress 3, harmful 1". */
function rejectionText(byReason: Readonly<Record<string, number>>): string {
  return Object.entries(byReason)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
}

/** When a shunned neighbour's shun ends: "until round N", or "for good". */
function shunText(until: number | undefined): string {
  if (until === undefined) return '';
  return Number.isFinite(until) ? `until round ${until}` : 'for good';
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

function backendText(s: AppState): string {
  if (s.backend === undefined) return '–';
  return s.threads === undefined ? s.backend : `${s.backend} (${s.threads} thread${s.threads === 1 ? '' : 's'})`;
}

function speedText(samplesPerSecond: number | undefined): string {
  return samplesPerSecond === undefined ? '–' : `${Math.round(samplesPerSecond)} samples/s`;
}

export function phaseText(phase: Phase): string {
  switch (phase.kind) {
    case 'idle':
      return 'Not connected';
    case 'loading':
      return `Loading ${phase.what}…`;
    case 'connecting':
      return `Connecting to the daemon (attempt ${phase.attempt})…`;
    case 'ready':
      return 'Connected: press Start';
    case 'running':
      return 'Training';
    case 'pausing':
      return 'Pausing after this round…';
    case 'paused':
      return 'Paused (still receiving updates)';
    case 'leaving':
      return 'Leaving…';
    case 'left':
      return 'Left the task';
    case 'failed':
      return `Error: ${phase.error}`;
    default: {
      const never: never = phase;
      return String(never);
    }
  }
}

/** A lost daemon overrides the phase line while the page is still in the task: it is an error. */
export function linkText(link: LinkState | undefined, now: number): string | undefined {
  if (link?.kind !== 'lost') return undefined;
  const secs = Math.max(0, Math.round((now - link.since) / 1000));
  const why = link.error === undefined ? '' : ` (last try: ${link.error})`;
  return `Error: lost the connection to the daemon ${secs} s ago; reconnecting, attempt ${link.attempt}${why}. Training continues alone until then.`;
}

const IN_TASK: ReadonlySet<Phase['kind']> = new Set(['ready', 'running', 'pausing', 'paused']);

function row(cells: string[], tag: 'td' | 'th' = 'td'): HTMLTableRowElement {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const cell = document.createElement(tag);
    cell.textContent = c;
    tr.append(cell);
  }
  return tr;
}

function table(id: string, head: string[], rows: string[][]): void {
  const t = $(id);
  t.replaceChildren(row(head, 'th'), ...rows.map((r) => row(r)));
}

export function render(s: AppState): void {
  const status = $('status');
  const lost = IN_TASK.has(s.phase.kind) ? linkText(s.link, Date.now()) : undefined;
  status.textContent = lost ?? phaseText(s.phase);
  status.dataset.phase = lost === undefined ? s.phase.kind : 'lost';
  $('summary').textContent =
    `task ${s.taskId} · data ${s.dataSource} · backend ${backendText(s)} · speed ${speedText(s.samplesPerSecond)} · ` +
    `peer ${s.peerId ? short(s.peerId) : '–'} · ` +
    `round ${s.round} · in ${bytes(s.bytesIn)} · out ${bytes(s.bytesOut)} · updates ${s.updatesAccepted}`;
  const last = s.history.at(-1);
  $('accuracy').textContent = `local ${pct(last?.local)} · merged ${pct(last?.merged)}`;
  $('chart').replaceChildren(accuracyChart(s.history));
  $('per-class').replaceChildren(perClassChart(s.perClass));
  table(
    'connections',
    ['peer', 'transport', 'limited', 'direction', 'remote address'],
    s.connections.map((c) => [short(c.peer), c.transport, c.limited ? 'yes' : 'no', c.direction, c.remoteAddr]),
  );
  table(
    'neighbours',
    ['peer', 'merge share', 'updates', 'rejected by the merge', 'shunned', 'WebRTC dial'],
    [
      ['(own model)', pct(s.ownShare), '', '', '', ''],
      ...s.neighbours.map((n) => [
        short(n.peer),
        pct(n.share),
        String(n.updates),
        rejectionText(n.mergeRejections),
        shunText(n.shunnedUntil),
        n.dial === undefined ? '' : n.dial.kind === 'failed' ? `failed: ${n.dial.error}` : n.dial.kind,
      ]),
    ],
  );
  table(
    'rejected',
    ['time', 'from', 'reason', 'detail'],
    s.rejected.map((r) => [r.at.slice(11, 19), short(r.from), r.reason, r.detail]),
  );
  $('errors').textContent = s.errors.join('\n');
  const phase = s.phase.kind;
  ($('join') as HTMLButtonElement).disabled = phase !== 'idle';
  ($('start') as HTMLButtonElement).disabled = phase !== 'ready' && phase !== 'paused';
  ($('pause') as HTMLButtonElement).disabled = phase !== 'running';
  ($('leave') as HTMLButtonElement).disabled = phase === 'idle' || phase === 'left' || phase === 'leaving';
}
