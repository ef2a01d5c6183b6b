import { test } from 'node:test';
import assert from 'node:assert/strict';
import { timeRange } from '../src/timefmt.js';

const NY = 'America/New_York';
const BERLIN = 'Europe/Berlin';

test('timeRange within a day', () => {
  const cases = [
    ['en', NY, '2026-12-03T14:00:00Z', '2026-12-03T14:15:00Z', '9:00 – 9:15 AM'],
    ['en', NY, '2026-12-03T16:45:00Z', '2026-12-03T17:00:00Z', '11:45 AM – 12:00 PM'],
    ['de', BERLIN, '2026-12-03T08:00:00Z', '2026-12-03T08:15:00Z', '09:00–09:15'],
    ['fr', BERLIN, '2026-12-03T08:00:00Z', '2026-12-03T08:15:00Z', '09:00 – 09:15'],
    ['es', BERLIN, '2026-12-03T08:00:00Z', '2026-12-03T08:15:00Z', '9:00–9:15'],
  ];
  for (const [loc, zone, a, b, want] of cases) assert.equal(timeRange(loc, new Date(a), new Date(b), zone), want, `${loc} ${a}`);
});

test('timeRange across midnight names no dates', () => {
  const cases = [
    ['en', NY, '2026-12-04T04:45:00Z', '2026-12-04T05:00:00Z', '11:45 PM – 12:00 AM'],
    ['en-US', NY, '2026-12-04T04:45:00Z', '2026-12-04T05:00:00Z', '11:45 PM – 12:00 AM'],
    ['de', BERLIN, '2026-12-03T22:45:00Z', '2026-12-03T23:00:00Z', '23:45–00:00'],
    ['fr', BERLIN, '2026-12-03T22:45:00Z', '2026-12-03T23:00:00Z', '23:45 – 00:00'],
    ['es', BERLIN, '2026-12-03T22:45:00Z', '2026-12-03T23:00:00Z', '23:45–0:00'],
  ];
  for (const [loc, zone, a, b, want] of cases) assert.equal(timeRange(loc, new Date(a), new Date(b), zone), want, `${loc} ${a}`);
});
