// Small helpers the fleet scenarios share: timing, percentiles, logging, waiting, workerd RSS sampling.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

const t0 = performance.now();
export const log = (...a) => console.error(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s]`, ...a);

export function percentile(values, p) {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const mib = (bytes) => +(bytes / 2 ** 20).toFixed(1);
export const round = (x, digits = 2) => (typeof x === 'number' && Number.isFinite(x) ? +x.toFixed(digits) : x);

/** Polls `done()` every `stepMs` until it holds or `maxMs` passes; answers whether it held. */
export async function until(done, { maxMs, stepMs = 100 }) {
  const deadline = performance.now() + maxMs;
  while (!(await done())) {
    if (performance.now() > deadline) return false;
    await sleep(stepMs);
  }
  return true;
}

/** Samples workerd RSS every `everyMs` until stop(); answers [{ t (s), rssMiB }]. */
export function rssSampler(broker, everyMs = 1000) {
  const start = performance.now();
  const samples = [{ t: 0, rssMiB: mib(broker.rss()) }];
  const timer = setInterval(() => samples.push({ t: round((performance.now() - start) / 1000, 1), rssMiB: mib(broker.rss()) }), everyMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      samples.push({ t: round((performance.now() - start) / 1000, 1), rssMiB: mib(broker.rss()) });
      return samples;
    },
  };
}

/** A unique suffix per process: tenants and client ids of a run never collide with a previous run's. */
export const runId = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

/** `promise`, or a rejection saying `what` after `ms`. */
export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
    }),
  ]);
}
