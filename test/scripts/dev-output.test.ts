// [issue 13] `npm start` does not show a client's dropped TCP connection as an error: workerd's
// "✘ [ERROR] Uncaught Error: Network connection lost." lines become one plain summary per 10 s.
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import { createDevOutputFilter } from '../../scripts/dev-output.mjs';

function run(chunks: string[], clock: { t: number }) {
  const shown: string[] = [];
  const notices: string[] = [];
  const filter = createDevOutputFilter((text: string) => shown.push(text), (text: string) => notices.push(text), () => clock.t);
  return { filter, shown, notices, feed: () => chunks.forEach((chunk) => filter.push(chunk)) };
}

describe('npm start output', () => {
  it('drops workerd socket-loss errors (plain or coloured, split across chunks) and the blank line after each; keeps everything else', () => {
    const clock = { t: 100_000 };
    const coloured = '\x1b[31m✘ \x1b[41;31m[\x1b[41;97mERROR\x1b[41;31m]\x1b[0m \x1b[1mUncaught Error: Network connection lost.\x1b[0m\n\n';
    const { filter, shown, notices, feed } = run(
      ['[wrangler:info] GET /mqtt 101 Switching Protocols\n✘ [ERROR] Uncaught Error: Net', 'work connection lost.\n\n', coloured, '✘ [ERROR] Uncaught TypeError: x is undefined\n\nready\n'],
      clock,
    );
    feed();
    filter.flush();
    expect(shown.join('')).toBe('[wrangler:info] GET /mqtt 101 Switching Protocols\n✘ [ERROR] Uncaught TypeError: x is undefined\n\nready\n');
    expect(notices.join('')).not.toContain('ERROR');
    // The first loss is told at once, the second in the summary at the end.
    expect(notices).toHaveLength(2);
    expect(notices[0]).toContain('1 client connection closed without a WebSocket close frame');
  });

  it('a storm of losses is one line per 10 s', () => {
    const clock = { t: 100_000 };
    const { filter, notices } = run([], clock);
    for (let i = 0; i < 500; i++) filter.push('✘ [ERROR] Uncaught Error: Network connection lost.\n');
    filter.flush();
    expect(notices).toHaveLength(2);
    expect(notices[1]).toContain('499 client connections');
  });
});
