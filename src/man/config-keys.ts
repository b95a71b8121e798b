// The configuration keys as operators write them, read off the schema's defaults (every Config
// field has one): camelCase becomes snake_case, and a duration field's Ms suffix is dropped
// (idleTimeoutMs is milter.idle_timeout). Pure.
import { defaults } from '../config/schema.ts';

export interface SchemaKey {
  /** `milter.listen`, `relay.timeouts.greeting`, or `user` for a top-level key. */
  readonly path: string;
  /** The enclosing sections joined with dots; '' for a top-level key. */
  readonly section: string;
  readonly key: string;
  /** The typed default (undefined: unset). */
  readonly value: unknown;
}

export function snakeKey(field: string): string {
  return field.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function isSection(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every key of the configuration file, in schema order. */
export function schemaKeys(): SchemaKey[] {
  const out: SchemaKey[] = [];
  const walk = (section: string, fields: Readonly<Record<string, unknown>>): void => {
    for (const [field, value] of Object.entries(fields)) {
      if (section === '' && field === 'source') continue;
      const key = snakeKey(field);
      const path = section === '' ? key : `${section}.${key}`;
      if (isSection(value)) walk(path, value);
      else out.push({ path, section, key, value });
    }
  };
  walk('', defaults as unknown as Readonly<Record<string, unknown>>);
  return out;
}

/** The value of `path` (a SchemaKey path) in a loaded configuration. */
export function valueAt(config: object, path: string): unknown {
  let node: unknown = config;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    const field = Object.keys(node).find((f) => snakeKey(f) === part);
    node = field === undefined ? undefined : (node as Record<string, unknown>)[field];
  }
  return node;
}
