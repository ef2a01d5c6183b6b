// The Capacity page's live heatmap: follows the console's feed for the
// page's queue and, on any reservation event (made, moved, canceled
// anywhere), refetches the heatmap's JSON (debounced) and updates the
// affected cells: their text, colour step and accessible name. The page
// works without it; this only saves the reload.

import { follow } from './lib/feed.js';

const DEBOUNCE_MS = 250;

function start() {
  const root = document.querySelector('[data-capacity]');
  if (!root) return;
  const queue = root.dataset.queue;
  const src = root.dataset.src;
  let timer = 0;
  let running = false;
  let again = false;

  const apply = (data) => {
    for (const c of data.cells || []) {
      const el = document.getElementById(c.id);
      if (!el) continue;
      if (el.getAttribute('aria-label') !== c.label) el.setAttribute('aria-label', c.label);
      if (el.textContent !== c.text) el.textContent = c.text;
      if (el.className !== c.class) el.className = c.class;
    }
  };

  const refresh = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      const res = await fetch(src, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (res.ok) apply(await res.json());
    } catch {
      // The next event or reconnect tries again.
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };

  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, DEBOUNCE_MS);
  };

  follow({ queues: [queue], types: ['reservation.'] }, schedule, (state) => {
    // A (re)opened feed may have missed what happened before it opened.
    if (state === 'open') schedule();
  });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
