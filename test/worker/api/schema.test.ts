// The API's schema language: validate() says what is wrong by path; toJsonSchema() is what the API documents.
import { describe, expect, it } from 'vitest';
import { toJsonSchema, validate, type Schema } from '../../../worker/api/schema.js';

describe('validate: string', () => {
  const name: Schema = { type: 'string', minLength: 2, maxLength: 4, pattern: '^[a-z]+$' };

  it.each([
    ['ab', undefined],
    ['abcd', undefined],
    [1, 'body must be a string'],
    [null, 'body must be a string'],
    [['ab'], 'body must be a string'],
    ['a', 'body must have at least 2 characters'],
    ['', 'body must have at least 2 characters'],
    ['abcde', 'body must have at most 4 characters'],
    ['AB', 'body must match ^[a-z]+$'],
    ['a1', 'body must match ^[a-z]+$'],
  ])('[DESIGN §5] %j → %s', (value, problem) => {
    expect(validate(name, value)).toBe(problem);
  });

  it('[DESIGN §5] enum lists the allowed strings, quoted, and is checked before the length', () => {
    const rights: Schema = { type: 'string', enum: ['pub', 'sub'], minLength: 10 };
    expect(validate({ type: 'string', enum: ['pub', 'sub'] }, 'sub')).toBeUndefined();
    expect(validate(rights, 'write')).toBe('body must be one of "pub", "sub"');
    expect(validate(rights, 'pub')).toBe('body must have at least 10 characters');
  });

  it('[DESIGN §5] check runs after the shape, its message prefixed by the path', () => {
    let calls = 0;
    const even: Schema = {
      type: 'string',
      maxLength: 3,
      check: (value: string) => {
        calls++;
        return value.length % 2 === 0 ? undefined : 'must have an even length';
      },
    };
    expect(validate(even, 'ab')).toBeUndefined();
    expect(validate(even, 'abc')).toBe('body must have an even length');
    expect(validate(even, 'abcde')).toBe('body must have at most 3 characters');
    expect(validate(even, 7)).toBe('body must be a string');
    expect(calls).toBe(2);
  });
});

describe('validate: integer', () => {
  const qos: Schema = { type: 'integer', minimum: 0, maximum: 2 };

  it.each([
    [0, undefined],
    [2, undefined],
    [-1, 'body must be at least 0'],
    [3, 'body must be at most 2'],
    [1.5, 'body must be an integer'],
    ['1', 'body must be an integer'],
    [null, 'body must be an integer'],
  ])('[DESIGN §5] %j → %s', (value, problem) => {
    expect(validate(qos, value)).toBe(problem);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])('[DESIGN §5] %s is not an integer', (value) => {
    expect(validate(qos, value)).toBe('body must be an integer');
  });

  it('[DESIGN §5] enum lists the allowed numbers', () => {
    expect(validate({ type: 'integer', enum: [0, 1] }, 1)).toBeUndefined();
    expect(validate({ type: 'integer', enum: [0, 1] }, 2)).toBe('body must be one of 0, 1');
  });

  it('[DESIGN §5] nullable accepts null and says so when refusing', () => {
    const expiresAt: Schema = { type: 'integer', minimum: 0, nullable: true };
    expect(validate(expiresAt, null)).toBeUndefined();
    expect(validate(expiresAt, 5)).toBeUndefined();
    expect(validate(expiresAt, -5)).toBe('body must be at least 0');
    expect(validate(expiresAt, 'soon')).toBe('body must be an integer or null');
  });
});

describe('validate: boolean', () => {
  it.each([
    [true, undefined],
    [false, undefined],
    [0, 'body must be true or false'],
    ['true', 'body must be true or false'],
    [null, 'body must be true or false'],
  ])('[DESIGN §5] %j → %s', (value, problem) => {
    expect(validate({ type: 'boolean' }, value)).toBe(problem);
  });
});

describe('validate: array', () => {
  const rights: Schema = { type: 'array', minItems: 1, maxItems: 2, items: { type: 'string', enum: ['pub', 'sub'] } };

  it.each([
    [['pub'], undefined],
    [['pub', 'sub'], undefined],
    ['pub', 'body must be an array'],
    [{ 0: 'pub', length: 1 }, 'body must be an array'],
    [[], 'body must have at least 1 item(s)'],
    [['pub', 'sub', 'pub'], 'body must have at most 2 items'],
    [['write'], 'body[0] must be one of "pub", "sub"'],
    [['pub', 7], 'body[1] must be one of "pub", "sub"'],
  ])('[DESIGN §5] %j → %s', (value, problem) => {
    expect(validate(rights, value)).toBe(problem);
  });

  it('[DESIGN §5] reports the first bad item', () => {
    expect(validate({ type: 'array', items: { type: 'integer' } }, [1, 'a', null])).toBe('body[1] must be an integer');
  });
});

describe('validate: object', () => {
  const entry: Schema = {
    type: 'object',
    required: ['filter', 'rights'],
    properties: {
      filter: { type: 'string', minLength: 1 },
      rights: { type: 'array', items: { type: 'string', enum: ['pub', 'sub'] } },
      note: { type: 'string' },
    },
  };
  const input: Schema = {
    type: 'object',
    properties: {
      acl: { type: 'array', items: entry },
      limits: { type: 'object', properties: { maxConnections: { type: 'integer', minimum: 1 } } },
      enabled: { type: 'boolean' },
    },
  };

  it.each([
    [{}, undefined],
    [{ acl: [{ filter: 'a/#', rights: ['pub'] }], limits: { maxConnections: 1 }, enabled: true }, undefined],
    [[], 'body must be a JSON object'],
    [null, 'body must be a JSON object'],
    ['{}', 'body must be a JSON object'],
    [{ other: 1 }, 'body has an unknown field "other"'],
    [{ limits: { maxFoo: 1 } }, 'body.limits has an unknown field "maxFoo"'],
    [{ limits: { maxConnections: 0 } }, 'body.limits.maxConnections must be at least 1'],
    [{ limits: [] }, 'body.limits must be a JSON object'],
    [{ enabled: 'yes' }, 'body.enabled must be true or false'],
    [{ acl: [{ rights: ['pub'] }] }, 'body.acl[0].filter is required'],
    [{ acl: [{ filter: 'a' }] }, 'body.acl[0].rights is required'],
    [{ acl: [{ filter: 'a', rights: ['pub'] }, { filter: '', rights: ['pub'] }] }, 'body.acl[1].filter must have at least 1 characters'],
    [{ acl: [{ filter: 'a', rights: ['pub', 'x'] }] }, 'body.acl[0].rights[1] must be one of "pub", "sub"'],
  ])('[DESIGN §5] %j → %s', (value, problem) => {
    expect(validate(input, value)).toBe(problem);
  });

  it('[DESIGN §5] an unknown field is reported before a missing required one', () => {
    expect(validate(entry, { extra: 1 })).toBe('body has an unknown field "extra"');
  });

  it('[DESIGN §5] an optional field may be left out, a required one may not', () => {
    expect(validate(entry, { filter: 'a', rights: [] })).toBeUndefined();
    expect(validate(entry, { filter: 'a', rights: [], note: 1 })).toBe('body.note must be a string');
  });

  it('[DESIGN §5] a path other than body can be given', () => {
    expect(validate(entry, { filter: 'a' }, 'acl[3]')).toBe('acl[3].rights is required');
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', '__proto__'])(
    '[DESIGN §5] a field named after an Object.prototype member (%s) is an unknown field too',
    (key) => {
      // JSON.parse makes such keys own properties, as a request body would.
      const body = JSON.parse(`{"filter":"a","rights":["pub"],"${key}":1}`) as unknown;
      expect(validate(entry, body)).toBe(`body has an unknown field "${key}"`);
    },
  );
});

describe('toJsonSchema', () => {
  it('[DESIGN §5] documents a schema as JSON Schema: objects closed, nullable as a type list, check left out', () => {
    const schema: Schema = {
      type: 'object',
      description: 'A token',
      required: ['name'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[a-z]+$', check: () => undefined },
        expiresAt: { type: 'integer', minimum: 0, nullable: true, description: 'ms since the epoch' },
        qos: { type: 'integer', enum: [0, 1] },
        rights: { type: 'array', minItems: 1, items: { type: 'string', enum: ['pub', 'sub'] } },
        limits: { type: 'object', properties: { maxQueued: { type: 'integer', minimum: 1 } } },
        enabled: { type: 'boolean' },
      },
    };
    expect(toJsonSchema(schema)).toEqual({
      type: 'object',
      description: 'A token',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[a-z]+$' },
        expiresAt: { type: ['integer', 'null'], minimum: 0, description: 'ms since the epoch' },
        qos: { type: 'integer', enum: [0, 1] },
        rights: { type: 'array', minItems: 1, items: { type: 'string', enum: ['pub', 'sub'] } },
        limits: { type: 'object', additionalProperties: false, properties: { maxQueued: { type: 'integer', minimum: 1 } } },
        enabled: { type: 'boolean' },
      },
    });
  });

  it('[DESIGN §5] the output is plain JSON: no functions survive', () => {
    const schema: Schema = { type: 'array', items: { type: 'string', check: () => undefined }, check: () => undefined };
    const json = toJsonSchema(schema);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    expect(json).toEqual({ type: 'array', items: { type: 'string' } });
  });
});
