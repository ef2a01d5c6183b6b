import { test } from 'node:test';
import assert from 'node:assert/strict';
import { region, toE164 } from '../src/phone.js';

test('region', () => {
  assert.equal(region('en', 'en'), 'US');
  assert.equal(region('en-GB', 'en'), 'GB');
  assert.equal(region('de', 'de'), 'DE');
  assert.equal(region('de-AT', 'de'), 'AT');
  assert.equal(region('fr-CA', 'fr'), 'CA');
  assert.equal(region('es-419', 'es'), 'ES');
  assert.equal(region('zh-Hant-TW', 'en'), 'US');
});

test('toE164', () => {
  const cases = [
    ['+1 415 555 0199', 'US', '+14155550199'],
    ['(415) 555-0199', 'US', '+14155550199'],
    ['1-415-555-0199', 'US', '+14155550199'],
    ['030 1234567', 'DE', '+49301234567'],
    ['0049 30 1234567', 'FR', '+49301234567'],
    ['06 12 34 56 78', 'FR', '+33612345678'],
    ['612 34 56 78', 'ES', '+34612345678'],
    ['020 7946 0958', 'GB', '+442079460958'],
    ['abc', 'US', ''],
    ['+0123456789', 'US', ''],
    ['12', 'DE', ''],
  ];
  for (const [input, reg, want] of cases) assert.equal(toE164(input, reg), want, `${input} in ${reg}`);
});
