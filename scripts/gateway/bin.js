#!/usr/bin/env node
// @ts-check
// `npx edge-mqtt-gateway …`: parses the command line, starts the gateway, closes it on SIGINT/SIGTERM.
import { readFileSync } from 'node:fs';
import { parseCommandLine, USAGE } from './cli.js';
import { startGateway } from './gateway.js';

const commandLine = parseCommandLine(process.argv.slice(2), process.env);
if (commandLine.kind === 'help') {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (commandLine.kind === 'error') {
  process.stderr.write(`edge-mqtt-gateway: ${commandLine.message}\n\n${USAGE}`);
  process.exit(2);
}

const { options, tls, quiet } = commandLine;
/** @param {string} line */
const log = (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
let gateway;
try {
  gateway = await startGateway({
    ...options,
    ...(tls ? { tls: { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile), port: tls.port } } : {}),
    // --quiet silences the per-connection lines only: start, stop and refusals still show.
    log: quiet ? (line) => (/^(open|close) /.test(line) ? undefined : log(line)) : log,
  });
} catch (error) {
  process.stderr.write(`edge-mqtt-gateway: ${/** @type {Error} */ (error).message}\n`);
  process.exit(1);
}

const running = gateway;
let stopping = false;
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => {
    // A second signal while the connections close: the operator wants out now.
    if (stopping) process.exit(1);
    stopping = true;
    log(`${signal}: closing listeners and ${running.stats().connectionsActive} connections`);
    running.close().then(() => process.exit(0));
  });
}
