import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manageLink } from '../src/manage.js';

const BASE = 'https://slotline.example';
const TOK = 'ZF2xtfwP8Az1pTK_TXhKDy5m6lzzsKs45tyUiB9gUvg';

test('manageLink', () => {
  const cases = [
    // manage_url is the manage page (public_url set, or the path alone)
    [{ manage_url: 'https://book.example/manage/' + TOK, manage_token: TOK }, `https://book.example/manage/${TOK}?lang=de&tz=Europe%2FBerlin`],
    [{ manage_url: 'https://book.example/slotline/manage/' + TOK }, `https://book.example/slotline/manage/${TOK}?lang=de&tz=Europe%2FBerlin`],
    [{ manage_url: '/manage/' + TOK, manage_token: TOK }, `${BASE}/manage/${TOK}?lang=de&tz=Europe%2FBerlin`],
    [{ manage_url: '/manage/' + TOK + '?lang=fr' }, `${BASE}/manage/${TOK}?lang=fr&tz=Europe%2FBerlin`],
    // manage_url is the API's link: the page from the token
    [{ manage_url: 'https://book.example/api/v2/self/' + TOK, manage_token: TOK }, `${BASE}/manage/${TOK}?lang=de&tz=Europe%2FBerlin`],
    [{ manage_url: '/api/v2/self/' + TOK, manage_token: TOK }, `${BASE}/manage/${TOK}?lang=de&tz=Europe%2FBerlin`],
    [{ manage_token: TOK }, `${BASE}/manage/${TOK}?lang=de&tz=Europe%2FBerlin`],
    // no page
    [{ manage_url: '/api/v2/self/' + TOK }, ''],
    [{ manage_url: 'javascript:alert(1)//manage/x' }, ''],
    [{ manage_url: 'javascript:alert(1)//manage/x', manage_token: TOK }, `${BASE}/manage/${TOK}?lang=de&tz=Europe%2FBerlin`],
    [{}, ''],
    [{ manage_url: 42, manage_token: null }, ''],
  ];
  for (const [r, want] of cases) assert.equal(manageLink(r, BASE, 'de', 'Europe/Berlin'), want, JSON.stringify(r));
  assert.equal(manageLink({ manage_token: TOK }, BASE, 'en', ''), `${BASE}/manage/${TOK}?lang=en`);
});
