// `npm run fuzz`: runs the fuzz targets in turn, each bounded by --count inputs (milter: packets)
// and --seconds, prints one summary line per target and the failures, and exits 1 on any crash,
// hang or oracle failure. Usage: node dist/test/fuzz/run.js [--count N] [--seconds S] [--seed X] [--target milter,lookup,dns,config]
import { parseFuzzOptions } from './fuzz-options.ts';
import { runCampaign, formatReport } from './targets.ts';

const options = parseFuzzOptions(process.argv.slice(2));
const reports = await runCampaign(options);
for (const line of formatReport(options, reports)) process.stdout.write(`${line}\n`);
process.exitCode = reports.every((r) => r.crashes === 0 && r.hangs === 0 && r.failureCount === 0) ? 0 : 1;
