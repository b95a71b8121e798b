// Names shared by the Exim lab (runs in the namespace) and exim.test.ts (asserts from outside);
// those both MTA labs share are in mta-lab-fixtures.ts.
import { fileURLToPath } from 'node:url';

export const EXIM_LAB_SCRIPT = fileURLToPath(new URL('./exim-lab.js', import.meta.url));
export const EXIM_EXAMPLE = fileURLToPath(new URL('../../../examples/exim/exim.conf', import.meta.url));

export interface LabInfo {
  readonly eximPort: number;
  readonly torPort: number;
}
