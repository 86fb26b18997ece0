// A small schema language: one description of a request body both validates it (with messages that say
// what is wrong, by path) and becomes the OpenAPI/JSON Schema the API publishes.
//
//   validate({ type: 'object', properties: { qos: { type: 'integer', enum: [0, 1] } } }, { qos: 2 })
//     → 'qos must be one of 0, 1'

interface Common {
  description?: string;
  /** Extra rule beyond what JSON Schema says; returns what is wrong (the path is prefixed). */
  check?: (value: never) => string | undefined;
}

export type Schema =
  | (Common & { type: 'string'; minLength?: number; maxLength?: number; pattern?: string; enum?: string[] })
  | (Common & { type: 'integer'; minimum?: number; maximum?: number; enum?: number[]; nullable?: boolean })
  | (Common & { type: 'boolean' })
  | (Common & { type: 'array'; items: Schema; minItems?: number; maxItems?: number })
  | (Common & { type: 'object'; properties: Record<string, Schema>; required?: string[] });

/** Validates `value`; returns the first problem as "<path> must …", or undefined when valid. */
export function validate(schema: Schema, value: unknown, path = 'body'): string | undefined {
  const problem = validateShape(schema, value, path);
  if (problem) return problem;
  const extra = schema.check?.(value as never);
  return extra ? `${path} ${extra}` : undefined;
}

function validateShape(schema: Schema, value: unknown, path: string): string | undefined {
  switch (schema.type) {
    case 'string': {
      const oneOf = schema.enum && `${path} must be one of ${schema.enum.map((e) => `"${e}"`).join(', ')}`;
      if (typeof value !== 'string') return oneOf ?? `${path} must be a string`;
      if (oneOf && !schema.enum!.includes(value)) return oneOf;
      if (schema.minLength !== undefined && value.length < schema.minLength) return `${path} must have at least ${schema.minLength} characters`;
      if (schema.maxLength !== undefined && value.length > schema.maxLength) return `${path} must have at most ${schema.maxLength} characters`;
      if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) return `${path} must match ${schema.pattern}`;
      return undefined;
    }
    case 'integer': {
      if (value === null && schema.nullable) return undefined;
      if (typeof value !== 'number' || !Number.isInteger(value)) return `${path} must be an integer${schema.nullable ? ' or null' : ''}`;
      if (schema.enum && !schema.enum.includes(value)) return `${path} must be one of ${schema.enum.join(', ')}`;
      if (schema.minimum !== undefined && value < schema.minimum) return `${path} must be at least ${schema.minimum}`;
      if (schema.maximum !== undefined && value > schema.maximum) return `${path} must be at most ${schema.maximum}`;
      return undefined;
    }
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `${path} must be true or false`;
    case 'array': {
      if (!Array.isArray(value)) return `${path} must be an array`;
      if (schema.minItems !== undefined && value.length < schema.minItems) return `${path} must have at least ${schema.minItems} item(s)`;
      if (schema.maxItems !== undefined && value.length > schema.maxItems) return `${path} must have at most ${schema.maxItems} items`;
      for (const [index, item] of value.entries()) {
        const problem = validate(schema.items, item, `${path}[${index}]`);
        if (problem) return problem;
      }
      return undefined;
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${path} must be a JSON object`;
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        // Own fields only: `in` would take "constructor" or "__proto__" for declared ones.
        if (!Object.hasOwn(schema.properties, key)) return `${path} has an unknown field "${key}"`;
      }
      for (const key of schema.required ?? []) {
        if (record[key] === undefined) return `${path}.${key} is required`;
      }
      for (const [key, property] of Object.entries(schema.properties)) {
        if (record[key] === undefined) continue;
        const problem = validate(property, record[key], `${path}.${key}`);
        if (problem) return problem;
      }
      return undefined;
    }
  }
}

/** The JSON Schema (OpenAPI 3.1 dialect) of a schema: what the API documents. */
export function toJsonSchema(schema: Schema): Record<string, unknown> {
  const { check: _check, ...rest } = schema as Schema & { check?: unknown };
  switch (rest.type) {
    case 'integer': {
      const { nullable, ...integer } = rest as Extract<Schema, { type: 'integer' }>;
      return nullable ? { ...integer, type: ['integer', 'null'] } : integer;
    }
    case 'array':
      return { ...rest, items: toJsonSchema(rest.items) };
    case 'object':
      return {
        ...rest,
        additionalProperties: false,
        properties: Object.fromEntries(Object.entries(rest.properties).map(([key, value]) => [key, toJsonSchema(value)])),
      };
    default:
      return rest;
  }
}
