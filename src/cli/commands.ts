// The subcommand registry. Each entry's module is loaded only when that command runs, so
// `resolve` does not pay for the milter server's imports and vice versa.
export interface Command {
  readonly summary: string;
  run(args: readonly string[]): Promise<number>;
}

export const commands: Readonly<Record<string, Command>> = {};
