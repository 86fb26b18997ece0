// Binary-safe JSON for properties and wills stored in SQLite (payloads and correlation data are bytes).

export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array ? { $bytes: Array.from(v) } : v));
}

export function fromJson<T>(text: string): T {
  return JSON.parse(text, (_key, v: unknown) =>
    v && typeof v === 'object' && '$bytes' in v ? new Uint8Array((v as { $bytes: number[] }).$bytes) : v,
  ) as T;
}
