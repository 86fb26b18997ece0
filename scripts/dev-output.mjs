// What `npm start` shows of wrangler dev's output: everything, except workerd's report of a client that
// dropped its TCP connection without a WebSocket close frame ("✘ [ERROR] Uncaught Error: Network connection
// lost."). That is an expected event, not an error (the session sees the loss and publishes the will), and
// workerd reports it from outside any code of ours, so it is told here instead: one plain line per 10 s with
// how many connections went that way.

/** The line, colours taken out. */
const SOCKET_LOSS = /^\s*✘?\s*\[ERROR\]\s*Uncaught Error: Network connection lost\.\s*$/;
const SUMMARY_EVERY_MS = 10_000;

/**
 * A line filter: `push(text)` takes output as it comes, `flush()` what is left at the end; `write` receives
 * the lines to show, `notice` the summaries.
 */
export function createDevOutputFilter(write, notice, now = () => Date.now()) {
  let partial = '';
  let dropped = 0;
  let skipBlank = false;
  let lastSummary = 0;
  let pendingTimer;
  const summarise = () => {
    pendingTimer = undefined;
    if (dropped === 0) return;
    notice(`[broker] ${dropped} client connection${dropped === 1 ? '' : 's'} closed without a WebSocket close frame (expected: dropped TCP; wills are published)\n`);
    dropped = 0;
    lastSummary = now();
  };
  const line = (text) => {
    const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
    if (SOCKET_LOSS.test(plain)) {
      dropped++;
      skipBlank = true;
      const wait = lastSummary + SUMMARY_EVERY_MS - now();
      if (wait <= 0) summarise();
      else pendingTimer ??= setTimeout(summarise, wait);
      return;
    }
    if (skipBlank && plain.trim() === '') {
      skipBlank = false;
      return;
    }
    skipBlank = false;
    write(`${text}\n`);
  };
  return {
    push(chunk) {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const text of lines) line(text);
    },
    flush() {
      if (partial) write(partial);
      partial = '';
      if (pendingTimer) clearTimeout(pendingTimer);
      summarise();
    },
  };
}
