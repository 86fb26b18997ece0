// One page of GET /retained, merged from the pages of every shard (core/routing/retained-merge.ts).
export { compareTopics, mergeRetainedPages, type RetainedPage } from '../../core/routing/retained-merge.js';

/** Messages per page when the caller does not say, and the most it may ask for. */
export const RETAINED_PAGE_DEFAULT = 100;
export const RETAINED_PAGE_MAX = 1000;
/** Payload bytes of one page: past it the page ends early (it always holds at least one message). */
export const RETAINED_PAGE_BYTES = 4 * 1024 * 1024;

/** `?limit=`: absent → the default; otherwise an integer from 1 to RETAINED_PAGE_MAX, or undefined (invalid). */
export function parsePageLimit(raw: string | undefined): number | undefined {
  if (raw === undefined) return RETAINED_PAGE_DEFAULT;
  if (!/^[0-9]{1,4}$/.test(raw)) return undefined;
  const limit = Number(raw);
  return limit >= 1 && limit <= RETAINED_PAGE_MAX ? limit : undefined;
}
