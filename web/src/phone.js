// Phone numbers as the customer types them, turned into E.164 for the API.

// Country calling codes of the regions a locale names (its region, else
// the language's usual one); a number typed without its country code gets
// the locale's.
const CODES = {
  US: '1', CA: '1', GB: '44', IE: '353', AU: '61', NZ: '64', IN: '91', ZA: '27',
  DE: '49', AT: '43', CH: '41', LI: '423', LU: '352', BE: '32', FR: '33', MC: '377',
  ES: '34', MX: '52', AR: '54', CO: '57', CL: '56', PE: '51', NL: '31', IT: '39', PT: '351',
};
const LANG_REGION = { en: 'US', de: 'DE', fr: 'FR', es: 'ES' };

/** region returns the region a BCP 47 tag names, else its language's usual one. */
export function region(tag, lang) {
  const m = /^[a-z]{2,3}(?:-[a-z]{4})?-([a-z]{2})\b/i.exec(tag || '');
  const r = m ? m[1].toUpperCase() : LANG_REGION[lang] || 'US';
  return CODES[r] ? r : LANG_REGION[lang] || 'US';
}

/**
 * toE164 turns what the customer typed into an E.164 number, or returns ''
 * when it cannot be one: spaces, dots, dashes and brackets are dropped, a
 * leading 00 is the international prefix, and a national number (with its
 * trunk 0, or a NANP number of ten digits) gets the region's country code.
 */
export function toE164(input, reg) {
  let s = String(input).replace(/[\s().\-\u00a0/]/g, '');
  if (s.startsWith('00')) s = '+' + s.slice(2);
  if (!s.startsWith('+')) {
    if (!/^\d+$/.test(s)) return '';
    const cc = CODES[reg] || '1';
    if (cc === '1') {
      if (s.length === 11 && s[0] === '1') s = s.slice(1);
    } else if (s[0] === '0' && reg !== 'IT') {
      s = s.slice(1);
    }
    s = '+' + cc + s;
  }
  return /^\+[1-9]\d{6,14}$/.test(s) ? s : '';
}
