// The "Change or cancel" link of a booked reservation.

/**
 * manageLink is the customer's manage page of reservation r (a create's
 * answer), in language lang and time zone zone (both optional): r's
 * manage_url when it is that page ({public_url}/manage/{token}, or the
 * path alone, resolved against base), else /manage/{manage_token} on base
 * (the Slotline server). A manage_url of the API (/api/v2/self/{token}) is
 * no page for a customer: without a token there is then no link (''),
 * and so without either.
 */
export function manageLink(r, base, lang, zone) {
  let u = null;
  try {
    if (typeof r.manage_url === 'string' && r.manage_url) {
      const m = new URL(r.manage_url, base);
      if ((m.protocol === 'https:' || m.protocol === 'http:') && /\/manage\/[^/]+$/.test(m.pathname)) u = m;
    }
    if (!u && typeof r.manage_token === 'string' && r.manage_token) {
      u = new URL('/manage/' + encodeURIComponent(r.manage_token), base);
    }
  } catch {
    u = null;
  }
  if (!u) return '';
  if (lang && !u.searchParams.has('lang')) u.searchParams.set('lang', lang);
  if (zone && !u.searchParams.has('tz')) u.searchParams.set('tz', zone);
  return u.href;
}
