// Shared by every command that takes --config: an explicit file must exist and be valid; without
// --config the default path is used when present, and built-in defaults otherwise.
import { existsSync } from 'node:fs';
import { loadConfigFile, formatProblem } from '../config/load.ts';
import { defaults, DEFAULT_CONFIG_PATH, type Config } from '../config/schema.ts';

export type ConfigLoad = { readonly ok: true; readonly config: Config } | { readonly ok: false; readonly messages: readonly string[] };

export async function loadConfigArg(path: string | undefined): Promise<ConfigLoad> {
  const file = path ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
  if (file === undefined) return { ok: true, config: defaults };
  const r = await loadConfigFile(file);
  if (r.ok) return r;
  return { ok: false, messages: r.problems.map((p) => formatProblem(file, p)) };
}
