// sysexits.h numbers, which MTAs and shell scripts already understand.
export const EX_OK = 0;
export const EX_USAGE = 64;
export const EX_DATAERR = 65;
export const EX_UNAVAILABLE = 69;
export const EX_SOFTWARE = 70;
export const EX_OSERR = 71;
export const EX_TEMPFAIL = 75;
export const EX_CONFIG = 78;

/** Thrown by a command for bad arguments; main prints it and exits 64. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
