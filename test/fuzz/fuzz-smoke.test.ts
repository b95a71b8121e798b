// A short fixed-seed fuzz run as part of `npm test`: every target with a small budget, each
// bounded by its count (the seconds are a backstop for a slow machine, not an assertion).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCampaign, formatReport } from './targets.ts';
import type { FuzzOptions, Target } from './fuzz-options.ts';

/** Inputs per target (milter: packets), sized for about a second each. */
const COUNTS: Readonly<Record<Target, number>> = { milter: 4000, lookup: 2000, dns: 1000, config: 150 };

for (const [target, count] of Object.entries(COUNTS) as [Target, number][]) {
  test(`fixed-seed fuzz smoke run of ${target}: no crash, no hang, every oracle holds`, async () => {
    const options: FuzzOptions = { count, seconds: 30, seed: 20261204, targets: [target] };
    const reports = await runCampaign(options);
    const summary = formatReport(options, reports).join('\n');
    const [r] = reports;
    assert.ok(r !== undefined && r.inputs > 0 && r.packets > 0, summary);
    assert.deepEqual([r.crashes, r.hangs, r.failureCount], [0, 0, 0], summary);
  });
}
