// The enhancement of Slotline's server-rendered /book and /manage pages.
// Forms with data-challenge-url get their proof of work solved before they
// are sent; a time zone select named tz follows the browser's zone. Any
// failure leaves the page as it works without JavaScript.

import { solve } from './pow.js';

function zone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  } catch {
    return '';
  }
}

// The page's times in the browser's zone: reload with ?tz= when the page
// offers that zone and was not asked for one.
function followZone() {
  const select = document.querySelector('select[name="tz"]');
  const tz = zone();
  const url = new URL(location.href);
  if (!select || !tz || url.searchParams.has('tz') || select.value === tz) return;
  if (!Array.from(select.options).some((o) => o.value === tz)) return;
  url.searchParams.set('tz', tz);
  location.replace(url.href);
}

function guard(form) {
  let solved = false;
  form.addEventListener('submit', async (e) => {
    if (solved) return;
    const field = form.querySelector('input[name="proof"]');
    if (!field) return;
    e.preventDefault();
    const submitter = e.submitter || null;
    form.setAttribute('aria-busy', 'true');
    try {
      const res = await fetch(form.dataset.challengeUrl, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (res.ok) field.value = await solve(await res.json());
    } catch {
      // sent without a proof: the server explains
    }
    solved = true;
    form.removeAttribute('aria-busy');
    if (form.requestSubmit) {
      form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
    } else {
      form.submit();
    }
    // A form the browser does not leave (a download, a refusal shown in
    // place) needs a fresh proof next time.
    solved = false;
  });
}

try {
  followZone();
  for (const form of document.querySelectorAll('form[data-challenge-url]')) guard(form);
} catch {
  // nothing: the page works without this script
}
