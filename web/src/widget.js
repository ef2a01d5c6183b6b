// <slotline-booking queue="…" key="pk_…" locale="…">: Slotline's booking
// flow as a web component. Everything lives in an open shadow root styled by
// one constructed stylesheet; the only global it adds is the element's
// definition. It talks to the Slotline server it was loaded from.

import en from '../../internal/web/i18n/en.json';
import de from '../../internal/web/i18n/de.json';
import fr from '../../internal/web/i18n/fr.json';
import es from '../../internal/web/i18n/es.json';
import { solve } from './pow.js';
import { region, toE164 } from './phone.js';
import { timeRange } from './timefmt.js';
import { manageLink } from './manage.js';
import css from './widget.css';

const CATALOGS = { en, de, fr, es };
const BASE = new URL(import.meta.url).origin;
const TAG = /^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$/i;
// The first load looks this many days ahead for a free time (each day is one
// request, within the key's per-address burst).
const SEARCH_DAYS = 7;

let sheet;
function styles(root) {
  if (typeof CSSStyleSheet === 'function' && 'adoptedStyleSheets' in Document.prototype) {
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
    }
    root.adoptedStyleSheets = [sheet];
    return;
  }
  // Older browsers: an element of the shadow root (a host page's CSP may
  // refuse it; the form stays usable unstyled).
  const style = document.createElement('style');
  style.textContent = css;
  root.append(style);
}

// locale picks the catalog and the Intl locale: the attribute, else the
// browser's language; a language not shipped falls back to English.
function locale(attr) {
  const tag = (attr || navigator.language || 'en').trim().replace(/_/g, '-');
  const lang = tag.toLowerCase().split(/[-_]/)[0];
  if (CATALOGS[lang] && TAG.test(tag)) {
    let intl = tag;
    try {
      intl = Intl.DateTimeFormat.supportedLocalesOf(tag)[0] || lang;
    } catch {
      intl = lang;
    }
    return { lang, tag, intl };
  }
  return { lang: 'en', tag: 'en', intl: 'en' };
}

function el(name, attrs, ...children) {
  const e = document.createElement(name);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v == null) continue;
    e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...children.filter((c) => c != null));
  return e;
}

function startOfDay(d) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate());
}

function addDays(d, n) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + n);
}

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// A problem document for failures that have none (network, bad answers).
function localProblem(code, title, status = 0) {
  return { type: 'about:blank', title, status, code };
}

async function problemOf(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON
  }
  if (!body || typeof body !== 'object') body = localProblem('http_' + res.status, res.statusText || 'Error', res.status);
  return body;
}

/** SlotlineBooking is the <slotline-booking> element. */
class SlotlineBooking extends HTMLElement {
  static observedAttributes = ['queue', 'key', 'locale'];

  #root;
  #ui = null;
  #loc;
  #day = null;
  #today = null;
  #slots = [];
  #zone = '';
  #queueZone = '';
  #loadSeq = 0;
  #busy = false;
  #idem = null;
  // #gen counts the renders: an answer to an earlier one is dropped.
  #gen = 0;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    styles(this.#root);
  }

  connectedCallback() {
    if (!this.#ui) this.#render();
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue !== newValue && this.#ui) this.#render();
  }

  #t(key, params) {
    const k = 'widget.' + key;
    let s = CATALOGS[this.#loc.lang][k] ?? en[k] ?? k;
    for (const [p, v] of Object.entries(params || {})) s = s.split('{' + p + '}').join(v);
    return s;
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { bubbles: true, composed: true, detail }));
  }

  get #queue() {
    return this.getAttribute('queue') || '';
  }

  get #key() {
    return this.getAttribute('key') || '';
  }

  // #render builds the whole form anew (on connection and whenever an
  // attribute changes).
  #render() {
    this.#loadSeq++;
    this.#gen++;
    this.#loc = locale(this.getAttribute('locale'));
    this.#zone = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
    this.#idem = null;
    this.#busy = false;
    const t = (k, p) => this.#t(k, p);
    const field = (id, label, control, hint) => {
      const described = [hint && hint.id, id + '-error'].filter(Boolean).join(' ');
      control.setAttribute('id', id);
      control.setAttribute('aria-describedby', described);
      const lab = el('label', { for: id }, label);
      const isOptional = hint && hint.classList.contains('optional');
      return el('div', { class: 'field' },
        isOptional ? el('div', { class: 'labelrow' }, lab, hint) : lab, isOptional ? null : hint, control,
        el('p', { id: id + '-error', class: 'error', role: 'alert' }));
    };
    const optional = (id) => el('span', { id: id + '-optional', class: 'hint optional' }, t('optional'));

    const ui = {};
    ui.formError = el('p', { class: 'error', role: 'alert', tabindex: '-1' });
    ui.prev = el('button', { type: 'button', class: 'nav' }, t('previous_day'));
    ui.next = el('button', { type: 'button', class: 'nav' }, t('next_day'));
    ui.heading = el('h2', { class: 'day', 'aria-live': 'polite' });
    ui.zone = el('p', { id: 'zone', class: 'hint' });
    ui.list = el('div', { class: 'slots' });
    ui.empty = el('p', { class: 'empty' });
    ui.retry = el('button', { type: 'button', class: 'nav', hidden: true }, t('retry'));
    ui.slotsError = el('p', { id: 'slots-error', class: 'error', role: 'alert' });
    ui.fieldset = el('fieldset', { 'aria-describedby': 'zone slots-error' },
      el('legend', {}, t('available_times')), ui.list, ui.empty, ui.retry, ui.slotsError);
    ui.phone = el('input', { type: 'tel', name: 'callback_number', autocomplete: 'tel', inputmode: 'tel', required: true, 'aria-required': 'true' });
    ui.name = el('input', { type: 'text', name: 'customer_name', autocomplete: 'name', maxlength: '200' });
    ui.reason = el('textarea', { name: 'reason', rows: '3', maxlength: '500' });
    ui.submit = el('button', { type: 'submit', class: 'submit' }, t('submit'));
    ui.form = el('form', { novalidate: true },
      ui.formError,
      ui.heading,
      el('div', { class: 'daynav' }, ui.prev, ui.next),
      ui.zone,
      ui.fieldset,
      field('phone', t('phone'), ui.phone, el('p', { id: 'phone-hint', class: 'hint' }, t('phone_hint'))),
      field('name', t('name'), ui.name, optional('name')),
      field('reason', t('reason'), ui.reason, optional('reason')),
      ui.submit);
    ui.status = el('div', { class: 'status', role: 'status', tabindex: '-1' });
    ui.wrap = el('div', { class: 'slotline', lang: this.#loc.lang, part: 'container' }, ui.form, ui.status);

    ui.prev.addEventListener('click', () => this.#go(-1));
    ui.next.addEventListener('click', () => this.#go(1));
    ui.retry.addEventListener('click', () => this.#busy || this.#load(this.#day, false));
    ui.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#submit();
    });
    ui.form.addEventListener('input', (e) => this.#clearError(e.target));
    ui.form.addEventListener('change', (e) => this.#clearError(e.target));

    for (const c of Array.from(this.#root.childNodes)) if (c.nodeName !== 'STYLE') c.remove();
    this.#root.append(ui.wrap);
    this.#ui = ui;

    if (!this.#queue || !this.#key) {
      ui.form.hidden = true;
      ui.status.textContent = t('not_configured');
      return;
    }
    this.#today = startOfDay(new Date());
    this.#load(this.#today, true);
  }

  #go(delta) {
    if (this.#busy) return;
    const day = addDays(this.#day, delta);
    if (day < this.#today) return;
    this.#load(day, false);
  }

  // #load shows the slots of day; search moves on to the next day with a
  // free slot (the first load).
  async #load(day, search) {
    const seq = ++this.#loadSeq;
    const ui = this.#ui;
    // "Try again" hides while the times load: its focus goes to them.
    const refocus = this.#root.activeElement === ui.retry;
    for (let i = 0; i <= (search ? SEARCH_DAYS : 0); i++) {
      const d = addDays(day, i);
      this.#showDay(d);
      ui.fieldset.setAttribute('aria-busy', 'true');
      ui.list.replaceChildren();
      ui.retry.hidden = true;
      ui.slotsError.textContent = '';
      ui.empty.textContent = this.#t('loading');
      let answer;
      try {
        const url = new URL(`/api/v2/queues/${encodeURIComponent(this.#queue)}/availability`, BASE);
        url.searchParams.set('from', d.toISOString());
        url.searchParams.set('to', addDays(d, 1).toISOString());
        const res = await fetch(url, { headers: { Authorization: 'Bearer ' + this.#key }, credentials: 'omit' });
        if (seq !== this.#loadSeq) return;
        if (!res.ok) {
          this.#loadFailed(await problemOf(res));
          return;
        }
        answer = await res.json();
      } catch {
        if (seq !== this.#loadSeq) return;
        this.#loadFailed(localProblem('network', 'Network error'));
        return;
      }
      if (seq !== this.#loadSeq) return;
      const all = Array.isArray(answer.slots) ? answer.slots : [];
      this.#queueZone = answer.timezone || '';
      this.#slots = all.filter((s) => s.available);
      const beyond = all.length > 0 && all.every((s) => s.reason === 'horizon');
      if (this.#slots.length > 0 || beyond || i === (search ? SEARCH_DAYS : 0)) {
        this.#showSlots(all, beyond);
        if (refocus) (ui.list.querySelector('input') || ui.next).focus();
        return;
      }
    }
  }

  #showDay(d) {
    const ui = this.#ui;
    this.#day = d;
    ui.heading.textContent = new Intl.DateTimeFormat(this.#loc.intl, { weekday: 'long', day: 'numeric', month: 'long', year: d.getFullYear() === new Date().getFullYear() ? undefined : 'numeric' }).format(d);
    const first = d <= this.#today;
    // A button about to be disabled hands the focus on, not to the page.
    if (first && this.#root.activeElement === ui.prev) ui.next.focus();
    ui.prev.disabled = first;
  }

  // #zoneName names a time zone in the customer's language ("Eastern
  // Time"; UTC and fixed zones by their long name), else by its IANA name.
  #zoneName(zone) {
    for (const timeZoneName of ['longGeneric', 'long']) {
      try {
        const parts = new Intl.DateTimeFormat(this.#loc.intl, { timeZone: zone, timeZoneName }).formatToParts(this.#day);
        const p = parts.find((x) => x.type === 'timeZoneName');
        if (p && !/^(GMT|UTC)[+-−]/.test(p.value)) return p.value;
      } catch {
        break;
      }
    }
    return zone.replace(/_/g, ' ');
  }

  #range(slot) {
    return timeRange(this.#loc.intl, new Date(slot.start), new Date(slot.end));
  }

  #when(slot) {
    const date = new Intl.DateTimeFormat(this.#loc.intl, { weekday: 'long', day: 'numeric', month: 'long' }).format(new Date(slot.start));
    return date + ', ' + this.#range(slot);
  }

  #showSlots(all, beyond) {
    const ui = this.#ui;
    ui.fieldset.removeAttribute('aria-busy');
    if (beyond && this.#root.activeElement === ui.next && !ui.prev.disabled) ui.prev.focus();
    ui.next.disabled = beyond;
    const zone = this.#zoneName(this.#zone);
    ui.zone.textContent = this.#queueZone && this.#queueZone !== this.#zone
      ? this.#t('zone_differs', { zone, queue_zone: this.#zoneName(this.#queueZone) })
      : this.#t('zone', { zone });
    ui.list.replaceChildren(...this.#slots.map((s, i) => el('label', { class: 'slot' },
      el('input', { type: 'radio', name: 'slot', value: String(i) }),
      el('span', {}, this.#range(s)))));
    let why = '';
    if (this.#slots.length === 0) {
      const reasons = new Set(all.map((s) => s.reason));
      if (beyond) why = 'horizon';
      else if (reasons.has('full')) why = 'full';
      else if (reasons.size === 1 && reasons.has('holiday')) why = 'closed_holiday';
      else if (all.length === 0 || all.every((s) => s.reason === 'closed' || s.reason === 'holiday')) why = 'closed';
      else why = 'no_times';
    }
    ui.empty.textContent = why ? this.#t(why) : '';
  }

  // #loadFailed says, as an alert in the times' group, that no times
  // could be shown and why: "The available times could not be loaded."
  // and, when it is known (this site, the network, too many requests, the
  // service down), the cause.
  #loadFailed(problem) {
    const ui = this.#ui;
    ui.fieldset.removeAttribute('aria-busy');
    ui.empty.textContent = '';
    const code = problem.code;
    let msg = this.#t('load_failed');
    if (code === 'forbidden' || code === 'origin_not_allowed' || code === 'unauthorized') {
      msg += ' ' + this.#t('not_allowed');
    } else {
      // Causes the customer can act on: wait, or try again later.
      if (code === 'network' || code === 'rate_limited' || code === 'unavailable') msg += ' ' + this.#t(code);
      ui.retry.hidden = false;
    }
    this.#setError(ui.fieldset, msg);
    this.#emit('slotline:error', problem);
  }

  #clearError(target) {
    const ui = this.#ui;
    if (target === ui.phone || target === ui.name || target === ui.reason) this.#setError(target, '');
    else if (target && target.name === 'slot') this.#setError(ui.fieldset, '');
  }

  // #setError shows msg under a field (the slots' fieldset or an input),
  // or clears it when msg is empty.
  #setError(target, msg) {
    const ui = this.#ui;
    const box = target === ui.fieldset ? ui.slotsError : this.#root.getElementById(target.id + '-error');
    box.textContent = msg;
    if (target === ui.fieldset) return;
    if (msg) target.setAttribute('aria-invalid', 'true');
    else target.removeAttribute('aria-invalid');
  }

  #focusError(target) {
    const ui = this.#ui;
    if (target === ui.fieldset) {
      const radios = Array.from(ui.list.querySelectorAll('input'));
      const r = radios.find((x) => x.checked) || radios[0];
      (r || ui.next).focus();
    } else if (target === ui.formError) {
      ui.formError.focus();
    } else {
      target.focus();
    }
  }

  #fail(target, msg) {
    const ui = this.#ui;
    if (target === ui.formError) ui.formError.textContent = msg;
    else this.#setError(target, msg);
    this.#focusError(target);
  }

  #setBusy(on) {
    const ui = this.#ui;
    this.#busy = on;
    ui.form.setAttribute('aria-busy', on ? 'true' : 'false');
    ui.submit.setAttribute('aria-disabled', on ? 'true' : 'false');
    ui.status.textContent = on ? this.#t('busy') : '';
  }

  async #submit() {
    if (this.#busy) return;
    const ui = this.#ui;
    ui.formError.textContent = '';
    for (const f of [ui.fieldset, ui.phone, ui.name, ui.reason]) this.#setError(f, '');
    const chosen = ui.list.querySelector('input:checked');
    const slot = chosen ? this.#slots[Number(chosen.value)] : null;
    const typed = ui.phone.value.trim();
    const number = typed ? toE164(typed, region(this.#loc.tag, this.#loc.lang)) : '';
    const errors = [];
    if (!slot) errors.push([ui.fieldset, this.#t('choose_time')]);
    if (!typed) errors.push([ui.phone, this.#t('phone_required')]);
    else if (!number) errors.push([ui.phone, this.#t('phone_invalid')]);
    if (errors.length) {
      for (const [f, m] of errors) this.#setError(f, m);
      this.#focusError(errors[0][0]);
      return;
    }
    const body = {
      queue_id: this.#queue,
      callback_number: number,
      time_slot_matrix: [{ start: slot.start, end: slot.end }],
      locale: this.#loc.tag,
    };
    const name = ui.name.value.trim();
    const reason = ui.reason.value.trim();
    if (name) body.customer_name = name;
    if (reason) body.reason = reason;
    const json = JSON.stringify(body);
    // The same request sent again (after a failure) keeps its key, so that
    // it cannot book twice.
    if (!this.#idem || this.#idem.body !== json) this.#idem = { body: json, key: uuid() };

    this.#setBusy(true);
    const gen = this.#gen;
    let res;
    try {
      const headers = {
        Authorization: 'Bearer ' + this.#key,
        'Content-Type': 'application/json',
        'Idempotency-Key': this.#idem.key,
      };
      const proof = await this.#proof();
      if (proof) headers['Slotline-Proof'] = proof;
      res = await fetch(new URL('/api/v2/callbacks', BASE), { method: 'POST', headers, body: json, credentials: 'omit' });
    } catch {
      if (gen !== this.#gen) return;
      this.#setBusy(false);
      const p = localProblem('network', 'Network error');
      this.#fail(ui.formError, this.#t('network'));
      this.#emit('slotline:error', p);
      return;
    }
    if (gen !== this.#gen) return;
    if (res.ok) {
      let r = null;
      try {
        r = await res.json();
      } catch {
        // answered without a body
      }
      this.#setBusy(false);
      if (!r || !r.id) {
        this.#fail(ui.formError, this.#t('error'));
        this.#emit('slotline:error', localProblem('bad_answer', 'Bad answer', res.status));
        return;
      }
      this.#booked(r, res.status === 200 || res.headers.has('Slotline-Duplicate-Of'));
      return;
    }
    const problem = await problemOf(res);
    if (gen !== this.#gen) return;
    this.#setBusy(false);
    this.#refused(problem);
    this.#emit('slotline:error', problem);
  }

  // #proof solves the server's challenge; '' when the server hands none
  // (then the create says whether one was needed).
  async #proof() {
    let ch;
    try {
      const res = await fetch(new URL('/api/v2/challenge', BASE), { credentials: 'omit' });
      if (!res.ok) return '';
      ch = await res.json();
    } catch {
      return '';
    }
    return solve(ch);
  }

  #booked(r, duplicate) {
    const ui = this.#ui;
    const slot = r.time_slot || { start: r.callback_time, end: r.callback_time };
    const when = this.#when(slot);
    const text = el('p', {}, this.#t(duplicate ? 'already_booked' : 'booked', { time: when }));
    const link = manageLink(r, BASE, this.#loc.lang, this.#zone);
    ui.form.hidden = true;
    ui.status.replaceChildren(text);
    if (link) ui.status.append(el('p', {}, el('a', { href: link }, this.#t('manage'))));
    ui.status.focus();
    this.#emit('slotline:booked', { id: r.id, reservation: r });
  }

  // #reoffer loads the day's times again after the chosen one was refused
  // and says why; when the day has none left, it shows the day of the
  // nearest free time the server offered.
  async #reoffer(nearest, msg) {
    const ui = this.#ui;
    await this.#load(this.#day, false);
    const next = Array.isArray(nearest) && nearest.length ? new Date(nearest[0].start) : null;
    if (this.#slots.length === 0 && next && !isNaN(next)) await this.#load(startOfDay(next), false);
    this.#fail(ui.fieldset, msg);
  }

  // #refused explains a problem next to the field it is about.
  #refused(p) {
    const ui = this.#ui;
    const errs = p.errors && typeof p.errors === 'object' ? Object.keys(p.errors) : [];
    const about = (prefix) => errs.some((k) => k === prefix || k.startsWith(prefix + '[') || k.startsWith(prefix + '.'));
    switch (p.code) {
      case 'conflict':
      case 'invalid':
        if (Array.isArray(p.candidates) && p.candidates.length) {
          const full = p.candidates.some((c) => c.reason === 'full');
          this.#reoffer(p.nearest_free_slots, this.#t(full ? 'slot_taken' : 'slot_gone'));
          return;
        }
        if (about('callback_number')) return this.#fail(ui.phone, this.#t('phone_invalid'));
        if (about('time_slot_matrix')) {
          this.#reoffer(null, this.#t('slot_gone'));
          return;
        }
        if (about('customer_name')) return this.#fail(ui.name, this.#t('name_invalid'));
        if (about('reason')) return this.#fail(ui.reason, this.#t('reason_invalid'));
        break;
      case 'number_not_allowed':
        return this.#fail(ui.phone, this.#t('number_not_allowed'));
      case 'duplicate':
        return this.#fail(ui.phone, this.#t('duplicate'));
      case 'throttled':
        return this.#fail(ui.phone, this.#t('throttled'));
      case 'rate_limited':
        return this.#fail(ui.formError, this.#t('rate_limited'));
      case 'proof_required':
        return this.#fail(ui.formError, this.#t('proof_failed'));
      case 'forbidden':
      case 'origin_not_allowed':
      case 'unauthorized':
        return this.#fail(ui.formError, this.#t('not_allowed'));
      case 'unavailable':
        return this.#fail(ui.formError, this.#t('unavailable'));
    }
    this.#fail(ui.formError, this.#t('error'));
  }
}

if (!customElements.get('slotline-booking')) customElements.define('slotline-booking', SlotlineBooking);
