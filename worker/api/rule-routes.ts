// A tenant's rules (messages out to webhooks and Queues): list, create, read, replace, delete, and send a test
// message. Mounted under the tenant routes (routes.ts): the admin or a master token of the tenant. All of a
// tenant's rules live in one object (durable-objects/rule-do.ts); the webhook secret is answered once, when
// it is generated, and never again (`secretSet: true` says there is one).
//
//   POST /rules { "name": "temps", "filter": "plant/+/temp", "destination": { "type": "webhook", "url": "https://…" } }
//   → 201 { "rule": { …, "destination": { …, "secretSet": true }, "counters": { … } }, "secret": "whsec_…" }
import { Hono } from 'hono';
import { RULE_NAME } from '../../core/rules/rule.js';
import { rulesStub } from '../../durable-objects/addresses.js';
import type { Env } from '../../durable-objects/env.js';
import { queueBinding } from '../../durable-objects/rules/queue-destination.js';
import type { RuleChange } from '../../durable-objects/rule-do.js';
import { jsonBody } from './json-body.js';
import { ruleFromInput, ruleInputProblem, type RuleInput } from './rule-input.js';
import { jsonError, type ApiVariables } from './tenant-auth.js';

export const ruleRoutes = new Hono<{ Bindings: Env; Variables: ApiVariables }>();

/** A valid rule body, or a 400 saying what is wrong (a Queue binding this Worker lacks included). */
async function ruleBody(request: Request, env: Env): Promise<RuleInput> {
  const body = await jsonBody(request);
  const problem = ruleInputProblem(body);
  if (problem) throw jsonError(400, problem);
  const input = body as RuleInput;
  if (input.destination.type === 'queue' && !queueBinding(env, input.destination.binding!)) {
    throw jsonError(400, `body.destination.binding: this Worker has no Queue producer binding "${input.destination.binding}" (add [[queues.producers]] to wrangler.toml)`);
  }
  return input;
}

function ruleName(name: string): string {
  if (!RULE_NAME.test(name)) throw jsonError(400, 'rule name must be 1-64 characters of a-z, 0-9, _ and -, starting with a letter or digit');
  return name;
}

function answer(change: RuleChange): { rule: unknown; secret?: string } {
  if (!change.ok) throw jsonError(change.status, change.error);
  return { rule: change.rule, ...(change.secret ? { secret: change.secret } : {}) };
}

ruleRoutes.get('/', async (c) => c.json({ rules: await rulesStub(c.env, c.get('tenant')).list(c.get('tenant')) }));

ruleRoutes.post('/', async (c) => {
  const input = await ruleBody(c.req.raw, c.env);
  if (input.name === undefined) throw jsonError(400, 'body.name is required');
  const tenant = c.get('tenant');
  const change = await rulesStub(c.env, tenant).create(tenant, ruleFromInput(input.name, input), input.destination.secret, input.destination.headers);
  return c.json(answer(change), 201);
});

ruleRoutes.get('/:name', async (c) => {
  const name = ruleName(c.req.param('name'));
  const rule = await rulesStub(c.env, c.get('tenant')).get(c.get('tenant'), name);
  if (!rule) throw jsonError(404, `no rule "${name}"`);
  return c.json({ rule });
});

/** Replaces the rule's settings (counters are kept); a secret left out keeps the stored one. */
ruleRoutes.put('/:name', async (c) => {
  const name = ruleName(c.req.param('name'));
  const input = await ruleBody(c.req.raw, c.env);
  if (input.name !== undefined && input.name !== name) throw jsonError(400, 'body.name must be the name in the path (a rule cannot be renamed)');
  const tenant = c.get('tenant');
  return c.json(answer(await rulesStub(c.env, tenant).replace(tenant, ruleFromInput(name, input), input.destination.secret, input.destination.headers)));
});

ruleRoutes.delete('/:name', async (c) => {
  const name = ruleName(c.req.param('name'));
  if (!(await rulesStub(c.env, c.get('tenant')).remove(c.get('tenant'), name))) throw jsonError(404, `no rule "${name}"`);
  return c.body(null, 204);
});

/** Sends one sample message to the rule's destination now: { ok, status?, error?, durationMs }. */
ruleRoutes.post('/:name/test', async (c) => {
  const name = ruleName(c.req.param('name'));
  const result = await rulesStub(c.env, c.get('tenant')).test(c.get('tenant'), name);
  if (!result) throw jsonError(404, `no rule "${name}"`);
  return c.json(result);
});
