import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { solve } from '../src/pow.js';

// challenge builds a challenge the way the server does.
function challenge(n, maxnumber, salt = 'c0ffee?expires=1900000000') {
  const hash = createHash('sha256').update(salt + n).digest('hex');
  return {
    algorithm: 'SHA-256', challenge: hash, maxnumber, salt,
    signature: createHmac('sha256', 'k').update(hash).digest('hex'),
  };
}

function decode(payload) {
  return JSON.parse(Buffer.from(payload, 'base64').toString('utf8'));
}

test('solve finds the number with crypto.subtle', async () => {
  const ch = challenge(4321, 50000);
  const got = decode(await solve(ch));
  assert.deepEqual(got, { algorithm: 'SHA-256', challenge: ch.challenge, number: 4321, salt: ch.salt, signature: ch.signature });
});

test('solve finds the number without crypto.subtle', async () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
  Object.defineProperty(globalThis, 'crypto', { value: {}, configurable: true });
  try {
    for (const n of [0, 999, 1000, 2500]) {
      // salts of several lengths cross the 55- and 64-byte padding edges
      for (const salt of ['s', 'a'.repeat(50), 'b'.repeat(60), 'é?expires=1']) {
        const ch = challenge(n, 3000, salt);
        assert.equal(decode(await solve(ch)).number, n);
      }
    }
  } finally {
    Object.defineProperty(globalThis, 'crypto', saved);
  }
});

test('solve gives up past maxnumber and refuses other algorithms', async () => {
  await assert.rejects(solve(challenge(20, 10)));
  await assert.rejects(solve({ ...challenge(1, 10), algorithm: 'SHA-1' }));
  await assert.rejects(solve(null));
});
