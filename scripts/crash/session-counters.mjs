// Reads each session object's own counters (queue_dropped, …) straight from the persisted SQLite files after the
// broker has stopped: the admin API shows queue depth but not what was dropped, and a loss is only a bug if the
// session did not drop it under its documented bound (MAX_QUEUED, oldest first). Needs the sqlite3 command;
// without it the counters are simply not reported.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Map clientId → { counterName: value } for every SessionDO in the persist dir; undefined without sqlite3. */
export function sessionCounters(persistDir) {
  if (spawnSync('sqlite3', ['-version']).status !== 0) return undefined;
  const doRoot = join(persistDir, 'v3', 'do');
  if (!existsSync(doRoot)) return new Map();
  const counters = new Map();
  for (const dir of readdirSync(doRoot).filter((d) => d.endsWith('-SessionDO'))) {
    for (const file of readdirSync(join(doRoot, dir)).filter((f) => f.endsWith('.sqlite'))) {
      const query = "SELECT client_id, name, value FROM session LEFT JOIN counters ON 1 = 1";
      const result = spawnSync('sqlite3', ['-separator', '\t', join(doRoot, dir, file), query], { encoding: 'utf8' });
      if (result.status !== 0) continue;
      for (const line of result.stdout.split('\n').filter(Boolean)) {
        const [clientId, name, value] = line.split('\t');
        const entry = counters.get(clientId) ?? {};
        if (name) entry[name] = Number(value);
        counters.set(clientId, entry);
      }
    }
  }
  return counters;
}
