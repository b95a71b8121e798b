// The system programs the fault matrix's lab needs (Postfix's, and prlimit for the fd-limit cell).
export const REQUIRED_PROGRAMS = ['postfix', 'postconf', 'postqueue', 'sendmail', 'prlimit'] as const;
