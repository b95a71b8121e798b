// Wires the parts into one running daemon: the resolver built from the config, the milter
// listener(s) with the routing filter, reload and drain. Construction is separate from listening
// (start), so tests can build a daemon from a config object and drive it.
import type { Logger } from '../log.ts';
import type { Config } from '../config/schema.ts';
import { createMilterServer, type MilterServer } from '../milter/index.ts';
import { createRoutingFilter, type RoutingSettings } from '../routing/milter-filter.ts';
import type { HeaderFormatSpec } from '../routing/header-value.ts';
import { buildResolver, type BuiltResolver } from '../resolve/from-config.ts';

export interface DaemonListeners {
  readonly milter: string;
  readonly submission: string | undefined;
}

export class Daemon {
  #config: Config;
  #built: BuiltResolver | undefined;
  #settings: RoutingSettings | undefined;
  readonly #log: Logger;
  readonly #servers: MilterServer[] = [];
  #listeners: DaemonListeners | undefined;

  constructor(config: Config, log: Logger) {
    this.#config = config;
    this.#log = log;
  }

  get config(): Config {
    return this.#config;
  }

  get listeners(): DaemonListeners | undefined {
    return this.#listeners;
  }

  /** Builds the resolver and starts listening. Throws with one clear message on failure. */
  async start(): Promise<DaemonListeners> {
    const built = await buildResolver(this.#config, this.#log);
    if (!built.ok) throw new Error(`cannot start: ${built.errors.join('; ')}`);
    this.#built = built;
    this.#settings = settingsFrom(this.#config, built);
    const c = this.#config.milter;
    const common = {
      logger: this.#log,
      maxConnections: c.maxConnections,
      idleTimeoutMs: c.idleTimeoutMs,
      socketMode: c.socketMode,
      ...(c.socketGroup === undefined ? {} : { socketGroup: c.socketGroup }),
    };
    const settings = (): RoutingSettings => {
      if (this.#settings === undefined) throw new Error('daemon not started');
      return this.#settings;
    };
    const smtpd = createMilterServer({ ...common, filter: createRoutingFilter({ settings, submission: false, log: this.#log }) });
    this.#servers.push(smtpd);
    const milter = (await smtpd.listen(c.listen)).spec;
    let submission: string | undefined;
    if (c.submissionListen !== undefined) {
      const local = createMilterServer({ ...common, filter: createRoutingFilter({ settings, submission: true, log: this.#log }) });
      this.#servers.push(local);
      submission = (await local.listen(c.submissionListen)).spec;
    }
    this.#listeners = { milter, submission };
    this.#log.info({ milter, submission, maps: built.mapSummary }, 'onionmx-milter started');
    return this.#listeners;
  }

  /**
   * Swaps in a new config and freshly loaded maps, atomically: connections opened from now on use
   * them, open connections keep the snapshot they started with. A broken config changes nothing.
   */
  async reload(next: Config): Promise<void> {
    const built = await buildResolver(next, this.#log);
    if (!built.ok) throw new Error(built.errors.join('; '));
    const old = this.#built;
    const before = this.#config.milter;
    if (before.listen !== next.milter.listen || before.submissionListen !== next.milter.submissionListen) {
      this.#log.warn('milter listen addresses changed: restart required for that to take effect');
    }
    this.#config = next;
    this.#built = built;
    this.#settings = settingsFrom(next, built);
    this.#log.info({ maps: built.mapSummary }, 'configuration reloaded');
    await old?.close();
  }

  /** Stops accepting, lets sessions finish until graceMs, then closes the rest. */
  async close(graceMs: number): Promise<void> {
    await Promise.all(this.#servers.map((s) => s.close(graceMs)));
    await this.#built?.close();
  }
}

function settingsFrom(config: Config, built: BuiltResolver): RoutingSettings {
  const h = config.header;
  const header: HeaderFormatSpec =
    h.format === 'template' ? { format: 'template', template: h.template ?? '', transport: h.transport } : h.format === 'postfix' ? { format: 'postfix', transport: h.transport } : { format: 'domain-list' };
  return {
    resolver: built.resolver,
    headerName: h.name,
    header,
    mixedRoutes: config.milter.mixedRoutes,
    mixedRoutesMaxDefer: config.milter.mixedRoutesMaxDefer,
    routeMailers: config.policy.routeMailers,
  };
}
