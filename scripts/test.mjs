// `npm test`: fetch what the tests need (Debian's Chromium for the dashboard), type-check everything
// (core/ without platform types), then unit, integration and browser tests, then the crash test.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', env: process.env, ...options });
  if (result.status !== 0 && !options.optional) process.exit(result.status ?? 1);
  return result.status === 0;
}

/**
 * Debian packages the tests use: Chromium drives the dashboard's browser tests (playwright-core downloads no
 * browser); mosquitto, its command-line clients and Python paho-mqtt are the real peers of the TCP gateway's and
 * the bridges' tests, which skip themselves where these are missing (only Chromium is required in CI).
 */
const DEBIAN_PACKAGES = [
  { name: 'chromium', present: '/usr/bin/chromium', required: true },
  { name: 'mosquitto', present: '/usr/sbin/mosquitto' },
  { name: 'mosquitto-clients', present: '/usr/bin/mosquitto_pub' },
  { name: 'python3-paho-mqtt', present: '/usr/lib/python3/dist-packages/paho' },
];

function ensureDebianPackages() {
  const missing = DEBIAN_PACKAGES.filter((p) => !existsSync(p.present));
  if (missing.length === 0) return;
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const [aptCommand, ...aptPrefix] = asRoot ? ['apt-get'] : ['sudo', '-n', 'apt-get'];
  const apt = (...args) => run(aptCommand, [...aptPrefix, ...args], { optional: true, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  const names = missing.map((p) => p.name);
  console.log(`Installing Debian packages the tests use (apt-get): ${names.join(' ')}...`);
  // All at once, then one by one if that fails: an optional package must not keep Chromium out.
  const ok = apt('update') && (apt('install', '-y', ...names) || missing.every((p) => apt('install', '-y', p.name) || !p.required));
  const chromiumMissing = !existsSync('/usr/bin/chromium');
  if (chromiumMissing && process.env.CI) {
    console.error('Could not install chromium; the browser tests need /usr/bin/chromium.');
    process.exit(1);
  }
  if (!ok || chromiumMissing) console.warn('Some Debian packages could not be installed: the tests that need them will be skipped (chromium, mosquitto, mosquitto-clients, python3-paho-mqtt).');
}

const extra = process.argv.slice(2);
ensureDebianPackages();
run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
run('npx', ['tsc', '-p', 'core/tsconfig.json', '--noEmit']);
run('npx', ['tsc', '-p', 'scripts/gateway/tsconfig.json', '--noEmit']);
run('npx', ['vitest', 'run', ...extra]);
// The whole suite ends with the kill -9 crash test, short form (about a minute): `npm start` killed 12 times
// while QoS 1/2 messages are in flight; fails if an acknowledged message is lost or a QoS 2 one duplicated.
if (extra.length === 0) run('node', ['scripts/crash-test.mjs', '--quick']);
