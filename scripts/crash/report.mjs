// The crash test's verdict: one row per scenario, the failures that make the run fail, and for a loss the facts
// that tell a durability bug from the documented queue bound (which seqs, when they were sent, what the
// session counted as dropped).

/** What makes a scenario fail: the four promises of the issue, plus progress and the publisher's own session. */
export function failuresOf(result) {
  const failures = [];
  if (result.lost.length > 0) failures.push(`${result.lost.length} acknowledged messages lost`);
  // PUBREC is where the broker takes a QoS 2 message over, even if PUBCOMP never reached the publisher.
  const lostAfterPubrec = result.lostPubrec.filter((seq) => !result.lost.includes(seq)).length;
  if (lostAfterPubrec > 0) failures.push(`${lostAfterPubrec} QoS 2 messages lost after PUBREC`);
  if (result.qos === 2 && result.duplicates > 0) failures.push(`${result.duplicates} QoS 2 messages delivered more than once`);
  // Without progress "nothing lost" proves nothing: every message must be taken over within the bound.
  if (result.unsettled > 0) failures.push(`${result.unsettled} of ${result.published} messages never acknowledged (stalled or out of time)`);
  if (!result.retainedOk) failures.push('retained message missing after the kills');
  if (!result.sessionPresent) failures.push('subscriber resumed without session present');
  if (result.publisherSessionLost > 0) failures.push(`publisher resumed ${result.publisherSessionLost}× without session present`);
  return failures;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? undefined : s[Math.floor((s.length - 1) / 2)];
};

/** "3-9, 14, 20-21": compact enough to paste into an issue. */
export function ranges(seqs) {
  const out = [];
  for (let i = 0; i < seqs.length; ) {
    let j = i;
    while (j + 1 < seqs.length && seqs[j + 1] === seqs[j] + 1) j++;
    out.push(i === j ? `${seqs[i]}` : `${seqs[i]}-${seqs[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}

/** The figures the README reports: kills, acked, lost, QoS 2 duplicates, recovery time. */
export function totalsOf(results) {
  const recoveries = results.flatMap((r) => r.recoveries.map((x) => x.readyMs));
  const sum = (f) => results.reduce((n, r) => n + f(r), 0);
  return {
    kills: sum((r) => r.kills),
    acked: sum((r) => r.acked),
    lost: sum((r) => r.lost.length),
    qos2Duplicates: sum((r) => (r.qos === 2 ? r.duplicates : 0)),
    recoveryP50Ms: median(recoveries),
    recoveryMaxMs: recoveries.length ? Math.max(...recoveries) : undefined,
  };
}

/** A scenario for the JSON line: seq lists as ranges, so that one line stays readable. */
export function compact({ lost, lostPubrec, subscriberId, duplicatedSeqs, resentSeqs, unconfirmedAtKill, ...rest }) {
  return { ...rest, lost: lost.length, lostSeqs: ranges(lost), lostPubrec: lostPubrec.length, duplicatedSeqs: ranges(duplicatedSeqs), resentSeqs: ranges(resentSeqs) };
}

/** The per-scenario table, as Markdown so that it pastes into the README unchanged. */
export function table(results) {
  const header = ['scenario', 'kills', 'published', 'acked', 'delivered', 'lost', 'duplicates', 'retained', 'session present', 'recovery p50 / max ms', 'first ack after restart p50 / max ms', 'queue_dropped'];
  const rows = results.map((r) => {
    const ready = r.recoveries.map((x) => x.readyMs);
    const resume = r.recoveries.map((x) => x.resumeMs).filter((x) => x !== undefined);
    return [
      r.name,
      r.kills,
      r.published,
      r.qos === 2 ? `${r.acked} (PUBREC ${r.pubrec})` : r.acked,
      r.delivered,
      r.lost.length,
      r.qos === 2 ? r.duplicates : `${r.duplicates} (allowed)`,
      r.retainedOk ? 'kept' : 'MISSING',
      r.sessionPresent ? 'yes' : 'NO',
      `${median(ready) ?? '-'} / ${ready.length ? Math.max(...ready) : '-'}`,
      `${median(resume) ?? '-'} / ${resume.length ? Math.max(...resume) : '-'}`,
      r.queueDropped ?? 'n/a',
    ];
  });
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** For a scenario that lost messages: which, sent when, and whether the session's queue bound explains it. */
export function diagnosis(result, maxQueued) {
  const lost = [...new Set([...result.lost, ...result.lostPubrec])].sort((a, b) => a - b);
  const lines = [`${result.name}: lost seqs ${ranges(lost)}`];
  const firstKill = result.recoveries[0];
  if (firstKill) {
    const beforeFirstKill = lost.filter((seq) => seq < firstKill.sent).length;
    lines.push(`  ${beforeFirstKill} of ${lost.length} were sent before the first kill (seqs < ${firstKill.sent}); all were queued: the subscriber was offline for the whole run`);
  }
  lines.push(`  queued at the broker before the subscriber resumed: ${result.queuedBefore ?? 'unknown'}; publisher resends after kills: ${result.resentPublishes}`);
  if (result.queueDropped !== undefined) {
    // Every copy the session stored was either delivered or dropped by the bound.
    const stored = result.copies + result.queueDropped;
    lines.push(`  session counter queue_dropped = ${result.queueDropped}: ${stored} copies stored (${result.copies} delivered + ${result.queueDropped} dropped) for ${result.published} messages, MAX_QUEUED ${maxQueued}, oldest dropped first`);
    lines.push(
      result.queueDropped >= lost.length
        ? `  => the queue bound accounts for the loss: ${stored - result.published} duplicate copies (publisher resends after kills) pushed the queue past it`
        : '  => the queue bound does NOT account for all of it',
    );
  }
  return lines.join('\n');
}

/** For a QoS 2 scenario with duplicates: were they exactly the messages resent after a kill? */
export function duplicateDiagnosis(result) {
  const resent = new Set(result.resentSeqs);
  const unconfirmed = new Set(result.unconfirmedAtKill);
  const dups = result.duplicatedSeqs;
  return [
    `${result.name}: delivered twice: seqs ${ranges(dups)}`,
    `  ${dups.filter((seq) => unconfirmed.has(seq)).length} of ${dups.length} were in flight without PUBREC at a kill, ` +
      `${dups.filter((seq) => resent.has(seq)).length} of ${dups.length} were resent (DUP) after it; ` +
      `${result.resentPublishes} PUBLISHes were resent in all (seqs ${ranges(result.resentSeqs)})`,
  ].join('\n');
}
