// Which client ids a token may connect with: an operator binds ids to tokens so that one device's token
// cannot take over (and inherit the session of) another device's client id in the same tenant.
//
//   patterns ['sensor-%u-*'] for token 'k3x9…': 'sensor-k3x9…-1' is allowed, 'sensor-other-1' is not.
//
// `*` matches any run of characters (also none), `%u` the token id; everything else is literal. No regex:
// a pattern with many stars cannot make matching backtrack exponentially, and no character is special.

/**
 * True when `clientId` matches one of `patterns` (whole id, anchored at both ends); absent or empty
 * patterns allow any client id. Server-assigned client ids are the caller's matter.
 */
export function clientIdAllowed(patterns: readonly string[] | undefined, clientId: string, tokenId: string): boolean {
  if (!patterns || patterns.length === 0) return true;
  return patterns.some((pattern) => globMatches(pattern.split('*').map((literal) => literal.replaceAll('%u', tokenId)), clientId));
}

/**
 * `literals` are the pattern's pieces between stars (one piece: no star). The first piece must be a prefix,
 * the last a suffix, and each middle piece is taken at its leftmost place after the previous one: leftmost
 * is never worse, so one greedy scan decides (linear in the id per piece).
 */
function globMatches(literals: readonly string[], value: string): boolean {
  const first = literals[0]!;
  if (literals.length === 1) return value === first;
  const last = literals[literals.length - 1]!;
  if (value.length < first.length + last.length || !value.startsWith(first) || !value.endsWith(last)) return false;
  const end = value.length - last.length;
  let position = first.length;
  for (const literal of literals.slice(1, -1)) {
    const found = value.indexOf(literal, position);
    if (found === -1 || found + literal.length > end) return false;
    position = found + literal.length;
  }
  return true;
}
