/** What the numbers were measured on: every report names the machine and its load. */
import os from 'node:os';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  readonly date: string;
  /** 1-minute load average when the run started and ended. */
  readonly loadStart: number;
  loadEnd: number;
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: os.totalmem() / 1024 ** 3,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
    loadStart: os.loadavg()[0] ?? 0,
    loadEnd: Number.NaN,
  };
}

export function currentLoad(): number {
  return os.loadavg()[0] ?? 0;
}
