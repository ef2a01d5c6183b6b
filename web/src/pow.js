// The proof of work of Slotline's challenge (the ALTCHA scheme): find the
// number n in [0, maxnumber] with hex(SHA-256(salt + n)) == challenge and
// hand the server base64(JSON) of the challenge with that number.

const enc = new TextEncoder();
const BATCH = 1000;

function hexBytes(hex) {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function same(buf, want) {
  const got = new Uint8Array(buf);
  if (got.length !== want.length) return false;
  for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) return false;
  return true;
}

// A plain SHA-256, for pages served without a secure context (where
// crypto.subtle is missing).
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

function sha256(data) {
  const len = data.length;
  const padded = new Uint8Array(((len + 9 + 63) >> 6) << 6);
  padded.set(data);
  padded[len] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 4, len * 8);
  view.setUint32(padded.length - 8, Math.floor(len / 0x20000000));
  const h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15], b = w[i - 2];
      const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3);
      const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(i * 4, h[i]);
  return out.buffer;
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * solve finds the challenge's number, in batches that let the page go on
 * between them, and returns the payload to send (header Slotline-Proof or
 * form field proof). It throws when the challenge is malformed or no number
 * up to maxnumber solves it.
 */
export async function solve(ch) {
  if (!ch || ch.algorithm !== 'SHA-256' || !/^[0-9a-f]{64}$/i.test(ch.challenge) || typeof ch.salt !== 'string') {
    throw new Error('unsupported challenge');
  }
  const want = hexBytes(ch.challenge.toLowerCase());
  const max = Number.isInteger(ch.maxnumber) && ch.maxnumber >= 0 ? ch.maxnumber : 1e6;
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  for (let n = 0; n <= max; n += BATCH) {
    const end = Math.min(n + BATCH - 1, max);
    if (subtle) {
      const batch = [];
      for (let i = n; i <= end; i++) batch.push(subtle.digest('SHA-256', enc.encode(ch.salt + i)));
      const hashes = await Promise.all(batch);
      for (let i = 0; i < hashes.length; i++) if (same(hashes[i], want)) return payload(ch, n + i);
    } else {
      for (let i = n; i <= end; i++) if (same(sha256(enc.encode(ch.salt + i)), want)) return payload(ch, i);
    }
    await pause();
  }
  throw new Error('challenge not solved');
}

function payload(ch, number) {
  const json = JSON.stringify({
    algorithm: ch.algorithm, challenge: ch.challenge, number, salt: ch.salt, signature: ch.signature,
  });
  // The JSON is ASCII unless the salt is not; encode as UTF-8 either way.
  let bin = '';
  for (const b of enc.encode(json)) bin += String.fromCharCode(b);
  return btoa(bin);
}
