// `npm test`: fetch what the tests need (Debian's Chromium for the dashboard), type-check everything
// (core/ without platform types), then unit, integration and browser tests, then the crash test.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', env: process.env, ...options });
  if (result.status !== 0 && !options.optional) process.exit(result.status ?? 1);
  return result.status === 0;
}

/** The dashboard's browser test drives Debian's Chromium; playwright-core downloads no browser. */
function ensureChromium() {
  if (existsSync('/usr/bin/chromium')) return;
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const [aptCommand, ...aptPrefix] = asRoot ? ['apt-get'] : ['sudo', '-n', 'apt-get'];
  const apt = (...args) => run(aptCommand, [...aptPrefix, ...args], { optional: true, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  console.log('Installing Debian chromium for the dashboard tests (apt-get)...');
  const ok = apt('update') && apt('install', '-y', 'chromium');
  if (!ok && process.env.CI) {
    console.error('Could not install chromium; the browser tests need /usr/bin/chromium.');
    process.exit(1);
  }
  if (!ok) console.warn('Could not install chromium: the browser tests will be skipped (install the Debian package "chromium").');
}

const extra = process.argv.slice(2);
ensureChromium();
run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
run('npx', ['tsc', '-p', 'core/tsconfig.json', '--noEmit']);
run('npx', ['vitest', 'run', ...extra]);
// The whole suite ends with the kill -9 crash test, short form (about a minute): `npm start` killed 12 times
// while QoS 1/2 messages are in flight; fails if an acknowledged message is lost or a QoS 2 one duplicated.
if (extra.length === 0) run('node', ['scripts/crash-test.mjs', '--quick']);
