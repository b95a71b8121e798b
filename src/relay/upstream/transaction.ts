// One mail transaction handed to the inbound side: the session's commands until release() or
// abort(), after which the session belongs to the pool again (or is closed) and every further
// command is answered without touching it.
import type { OnionTarget } from '../../resolve/types.ts';
import type { MailCommand, RcptCommand, SmtpReply } from '../envelope.ts';
import type { UpstreamCapabilities, UpstreamTransaction } from './api.ts';
import { sequenceReply } from './replies.ts';
import type { UpstreamSession } from './session.ts';

export type TransactionEnd = 'release' | 'abort';

export class SessionTransaction implements UpstreamTransaction {
  readonly destination: OnionTarget;
  readonly reused: boolean;
  readonly capabilities: UpstreamCapabilities;
  readonly #session: UpstreamSession;
  readonly #onEnd: (session: UpstreamSession, end: TransactionEnd) => void;
  #ended: TransactionEnd | undefined;

  constructor(session: UpstreamSession, reused: boolean, onEnd: (session: UpstreamSession, end: TransactionEnd) => void) {
    this.#session = session;
    this.destination = session.target;
    this.capabilities = session.capabilities;
    this.reused = reused;
    this.#onEnd = onEnd;
  }

  mail(command: MailCommand): Promise<SmtpReply> {
    return this.#ended === undefined ? this.#session.mail(command) : this.#over('MAIL');
  }

  rcpt(command: RcptCommand): Promise<SmtpReply> {
    return this.#ended === undefined ? this.#session.rcpt(command) : this.#over('RCPT');
  }

  data(): Promise<SmtpReply> {
    return this.#ended === undefined ? this.#session.data() : this.#over('DATA');
  }

  write(chunk: Uint8Array): boolean {
    return this.#ended === undefined ? this.#session.write(chunk) : true;
  }

  drained(): Promise<void> {
    return this.#ended === undefined ? this.#session.drained() : Promise.resolve();
  }

  end(): Promise<SmtpReply> {
    return this.#ended === undefined ? this.#session.end() : this.#over('the final dot');
  }

  release(): void {
    if (this.#ended !== undefined) return;
    this.#ended = 'release';
    this.#onEnd(this.#session, 'release');
  }

  abort(reason: string): void {
    if (this.#ended !== undefined) return;
    this.#ended = 'abort';
    this.#session.destroy(`aborted: ${reason}`);
    this.#onEnd(this.#session, 'abort');
  }

  #over(command: string): Promise<SmtpReply> {
    return Promise.resolve(sequenceReply(this.destination, command, this.#ended === 'abort' ? 'the transaction was aborted' : 'the transaction was released'));
  }
}
