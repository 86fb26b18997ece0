// `npm test`: type-check everything (core/ without platform types), then unit and integration tests.
import { spawnSync } from 'node:child_process';

function run(command, args) {
  const result = spawnSync(command, args, { stdio: 'inherit', env: process.env });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const extra = process.argv.slice(2);
run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
run('npx', ['tsc', '-p', 'core/tsconfig.json', '--noEmit']);
run('npx', ['vitest', 'run', ...extra]);
