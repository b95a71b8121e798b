// A small filter on our milter engine for the real-MTA suites. Per message it
// - adds `X-Test-Filter: seen <n> rcpts` (n = recipients it accepted),
// - deletes every incoming `X-Delete-Me` header (CHGHEADER with an empty value, highest index first),
// - adds `X-Route-Me: yes` when any accepted recipient is at route.test,
// - rejects a recipient whose local part is `reject-me` with `550 5.7.1` at RCPT.
// It records what it did per message so tests can check the MTA's view against the filter's.
import { Verdicts, type FilterSpec } from '../../src/milter/index.ts';

export const REJECT_LOCAL_PART = 'reject-me';
export const ROUTE_DOMAIN = 'route.test';
export const DELETE_HEADER = 'X-Delete-Me';

export interface FilteredMessage {
  /** The engine's id of the MTA connection the message came through. */
  readonly connectionId: string;
  readonly from: string;
  readonly rcpts: readonly string[];
  readonly rejected: readonly string[];
  readonly deletedHeaders: number;
  readonly routed: boolean;
}

export interface TestFilter {
  readonly spec: FilterSpec;
  readonly messages: readonly FilteredMessage[];
  /** Connections opened by the MTA so far. */
  readonly connections: () => number;
}

export function createTestFilter(): TestFilter {
  const messages: FilteredMessage[] = [];
  let connections = 0;

  const spec: FilterSpec = {
    actions: ['addHeader', 'changeHeader'],
    noReply: ['header'],
    open() {
      connections += 1;
      let from = '';
      let rcpts: string[] = [];
      let rejected: string[] = [];
      let toDelete = 0;
      const reset = (): void => {
        from = '';
        rcpts = [];
        rejected = [];
        toDelete = 0;
      };

      return {
        mailFrom(_ctx, sender) {
          reset();
          from = sender.address;
          return undefined;
        },
        rcptTo(_ctx, recipient) {
          const at = recipient.address.lastIndexOf('@');
          const local = at === -1 ? recipient.address : recipient.address.slice(0, at);
          if (local.toLowerCase() === REJECT_LOCAL_PART) {
            rejected.push(recipient.address);
            return Verdicts.reply(550, '5.7.1', `${recipient.address} is refused by the test filter`);
          }
          rcpts.push(recipient.address);
          return undefined;
        },
        header(_ctx, name) {
          if (name.toLowerCase() === DELETE_HEADER.toLowerCase()) toDelete += 1;
          return undefined;
        },
        endOfMessage(ctx) {
          for (let index = toDelete; index >= 1; index--) ctx.deleteHeader(DELETE_HEADER, index);
          ctx.addHeader('X-Test-Filter', `seen ${rcpts.length} rcpts`);
          const routed = rcpts.some((r) => r.toLowerCase().endsWith(`@${ROUTE_DOMAIN}`));
          if (routed) ctx.addHeader('X-Route-Me', 'yes');
          messages.push({ connectionId: ctx.id, from, rcpts, rejected, deletedHeaders: toDelete, routed });
          reset();
          return undefined;
        },
        abort() {
          reset();
        },
      };
    },
  };

  return { spec, messages, connections: () => connections };
}
