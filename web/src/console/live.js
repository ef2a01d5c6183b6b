// The live page: follows GET /console/events with the form's queue and
// type, adding each event at the top of the log (newest first, as the
// server renders it), with the connection's state and a Pause toggle.
import { follow } from './lib/feed.js';

const form = document.getElementById('live-filter');
const log = document.getElementById('live-log');
const state = document.getElementById('live-state');
const pause = document.getElementById('live-pause');
const submit = form && form.querySelector('button[type="submit"]');
let stop = () => {};
let paused = false;

function show(s) {
  state.textContent = paused ? state.dataset.paused : state.dataset[s] || s;
}

function stamp(iso, zone) {
  const d = new Date(iso);
  try {
    const p = new Intl.DateTimeFormat('sv-SE', {
      timeZone: zone || 'UTC', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
    }).format(d);
    return p.replace(',', '');
  } catch {
    return iso;
  }
}

function queueName(id) {
  const o = form.querySelector(`#l-queue option[value="${CSS.escape(id || '')}"]`);
  return o && id ? o.textContent : id || '';
}

function add(ev) {
  if (paused) return;
  const li = document.createElement('li');
  const t = document.createElement('time');
  t.textContent = stamp(ev.occurred_at, ev.timezone);
  const c = document.createElement('code');
  c.textContent = ev.type;
  const by = ev.actor && ev.origin
    ? log.dataset.by.replace('{actor}', ev.actor).replace('{origin}', ev.origin)
    : ev.actor || ev.origin || '–';
  const parts = [queueName(ev.queue_id)];
  if (ev.number) parts.push(ev.number);
  parts.push(by);
  li.append(t, ' ', c, ' ' + parts.join(' · '));
  log.prepend(li);
  while (log.children.length > 200) log.lastElementChild.remove();
}

function start() {
  stop();
  const queue = form.elements.queue.value;
  const type = form.elements.type.value;
  stop = follow({ queues: queue ? [queue] : [], types: type ? [type] : [] }, add, show);
}

if (form && log && state) {
  if (submit) submit.hidden = true;
  pause.hidden = false;
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    show('open');
  });
  form.addEventListener('change', () => {
    const q = new URLSearchParams(new FormData(form));
    history.replaceState(null, '', '/console/live?' + q.toString());
    // The list shown is the old filter's: start again from the server's.
    log.replaceChildren();
    start();
  });
  start();
}
