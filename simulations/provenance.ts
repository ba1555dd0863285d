/**
 * Which code produced a result: the git commit checked out and whether the work tree
 * differed from it. Results (`meshfl simulate`'s results.json, the lockstep comparison's
 * --json) record both, so a measured number can be tied to the code that measured it.
 * Without git, outside a work tree or in an installed package, both are null: a result
 * then says it does not know rather than naming a wrong commit.
 */
import { execFileSync } from 'node:child_process';

/** Time allowed for each git call. */
const GIT_TIMEOUT_MS = 5_000;

export interface CodeVersion {
  /** `git rev-parse HEAD`, or null when unknown. */
  readonly commit: string | null;
  /** True when `git status --porcelain` lists anything (untracked files included), null when unknown. */
  readonly dirty: boolean | null;
}

export interface CodeVersionOptions {
  /** Directory inside the work tree to ask about (default: this file's, i.e. the code that runs). */
  readonly cwd?: string;
  /** The git executable (tests point it at a missing one). */
  readonly git?: string;
}

const UNKNOWN: CodeVersion = { commit: null, dirty: null };

export function codeVersion(options: CodeVersionOptions = {}): CodeVersion {
  const cwd = options.cwd ?? import.meta.dirname;
  // An installed copy under node_modules is not the work tree git would find above it.
  if (options.cwd === undefined && /[\\/]node_modules[\\/]/.test(cwd)) return UNKNOWN;
  const git = (...args: string[]): string =>
    execFileSync(options.git ?? 'git', args, {
      cwd,
      encoding: 'utf8',
      timeout: GIT_TIMEOUT_MS,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  let commit: string;
  try {
    commit = git('rev-parse', 'HEAD').trim();
  } catch {
    return UNKNOWN;
  }
  if (!/^[0-9a-f]{40,64}$/.test(commit)) return UNKNOWN;
  let dirty: boolean | null;
  try {
    dirty = git('status', '--porcelain').trim() !== '';
  } catch {
    dirty = null;
  }
  return { commit, dirty };
}
