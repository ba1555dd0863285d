/**
 * The container image's start and health commands, read from the repo's Dockerfile (its
 * last stage), with the image's paths mapped onto this machine: no container runtime is
 * needed, so a test can run exactly the command line the image runs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface ImageSpec {
  readonly workdir: string;
  /** ENV of the final stage, in order. */
  readonly env: ReadonlyMap<string, string>;
  /** CMD in exec form. */
  readonly cmd: readonly string[];
  /** HEALTHCHECK CMD in exec form. */
  readonly healthcheck: readonly string[];
  /** Image path -> repo path, for the final stage's COPY lines that copy from the build context. */
  readonly copiedFromContext: ReadonlyMap<string, string>;
  readonly user: string | undefined;
  readonly volumes: readonly string[];
}

/** Logical lines (backslash continuations joined, comments dropped). */
function instructions(text: string): string[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function execForm(json: string, what: string): string[] {
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) {
    throw new Error(`${what} must be in exec form (a JSON array of strings): ${json}`);
  }
  return parsed;
}

export function parseDockerfile(file: string): ImageSpec {
  const lines = instructions(readFileSync(file, 'utf8'));
  const lastFrom = lines.findLastIndex((l) => /^FROM\s/i.test(l));
  if (lastFrom < 0) throw new Error(`${file}: no FROM`);
  let workdir = '/';
  let user: string | undefined;
  const env = new Map<string, string>();
  const copied = new Map<string, string>();
  const volumes: string[] = [];
  let cmd: string[] | undefined;
  let healthcheck: string[] | undefined;
  const resolveIn = (p: string) => (p.startsWith('/') ? p : path.posix.join(workdir, p));
  for (const line of lines.slice(lastFrom + 1)) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    switch (keyword.toUpperCase()) {
      case 'WORKDIR':
        workdir = resolveIn(args);
        break;
      case 'USER':
        user = args;
        break;
      case 'ENV': {
        const m = /^(\w+)=(.*)$/.exec(args);
        if (!m) throw new Error(`ENV must be KEY=value: ${line}`);
        env.set(m[1], m[2]);
        break;
      }
      case 'COPY':
        if (!rest.some((a) => a.startsWith('--from='))) {
          const [src, dest] = rest.filter((a) => !a.startsWith('--'));
          if (src === undefined || dest === undefined)
            throw new Error(`COPY needs a source and a destination: ${line}`);
          copied.set(resolveIn(dest), src);
        }
        break;
      case 'VOLUME':
        volumes.push(...(args.startsWith('[') ? execForm(args, 'VOLUME') : rest));
        break;
      case 'CMD':
        cmd = execForm(args, 'CMD');
        break;
      case 'HEALTHCHECK': {
        const at = args.indexOf('CMD ');
        if (at < 0) throw new Error(`HEALTHCHECK without CMD: ${line}`);
        healthcheck = execForm(args.slice(at + 4), 'HEALTHCHECK CMD');
        break;
      }
    }
  }
  if (!cmd) throw new Error(`${file}: the final stage has no CMD`);
  if (!healthcheck) throw new Error(`${file}: the final stage has no HEALTHCHECK`);
  return { workdir, env, cmd, healthcheck, copiedFromContext: copied, user, volumes };
}

/**
 * Maps an image path onto this machine: a file the final stage COPYs from the build context
 * -> that file in `repo`; a path under the WORKDIR (the app: package.json, cli/, dist/,
 * node_modules/) -> the same path under `app`; a volume -> `volumes[path]`. Anything else
 * (an argument, not a path) is returned unchanged.
 */
export function imagePathMapper(
  image: ImageSpec,
  repo: string,
  app: string,
  volumes: Readonly<Record<string, string>>,
): (value: string) => string {
  return (value) => {
    if (!value.startsWith('/')) return value;
    const fromContext = image.copiedFromContext.get(value);
    if (fromContext !== undefined) return path.join(repo, fromContext);
    const volume = volumes[value];
    if (volume !== undefined) return volume;
    if (value.startsWith(`${image.workdir}/`)) return path.join(app, value.slice(image.workdir.length + 1));
    throw new Error(
      `image path ${value} has no counterpart here (not copied from the repo, not under ${image.workdir})`,
    );
  };
}
