// core/ is the pure protocol (STYLE.md): its files import only each other. The tsconfig's `"types": []`
// keeps platform types out; this keeps explicit imports of packages (hono, cloudflare:*, node:*) and of the
// Worker or the Durable Objects out.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const core = resolve(import.meta.dirname, '../../core');

function sourcesUnder(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourcesUnder(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier a file imports or re-exports. */
function importsOf(source: string): string[] {
  return [...source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s+['"]([^'"]+)['"]/g)].map((match) => match[1]!);
}

describe('the core/ fence', () => {
  const files = sourcesUnder(core);

  it('finds the core sources', () => {
    expect(files.length).toBeGreaterThan(40);
  });

  it.each(files.map((file) => [relative(core, file), file]))('core/%s imports only files inside core/', (_name, file) => {
    const outside = importsOf(readFileSync(file, 'utf8')).filter((specifier) => {
      if (!specifier.startsWith('.')) return true;
      return relative(core, resolve(dirname(file), specifier)).startsWith('..');
    });
    expect(outside).toEqual([]);
  });
});
