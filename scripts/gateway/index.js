// @ts-check
// The gateway's programmatic entry: startGateway for tests and embedding, the CONNECT rewriter for its tests.
export { startGateway } from './gateway.js';
export { rewriteConnectUsername } from './connect-rewrite.js';
