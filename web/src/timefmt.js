// Slot time labels: a slot's local time range in the CLDR interval format
// of the locale, with plain spaces ("9:00 – 9:15 AM", "09:00–09:15").

const plain = (s) => s.replace(/[\u2009\u202f\u00a0]/g, ' ');

// Part types of a date: a range over two days gets them on both ends
// ("12/3/2026, 11:45 PM – 12/4/2026, 12:00 AM"), which a slot's label never
// shows.
const DATE_PARTS = new Set(['weekday', 'era', 'year', 'relatedYear', 'yearName', 'month', 'day']);

// trim drops the words around a range (German's "Uhr").
function trim(parts) {
  const p = parts.slice();
  while (p.length > 1 && p[p.length - 1].type === 'literal') p.pop();
  while (p.length > 1 && p[0].type === 'literal') p.shift();
  return p;
}

// separator is the locale's literal between the two ends of a same-day
// range (" – " in English, "–" in German).
function separator(f) {
  try {
    const parts = f.formatRangeToParts(new Date(2000, 0, 3, 10), new Date(2000, 0, 3, 14));
    const s = parts.find((x) => x.type === 'literal' && x.source === 'shared' && /[-–—~]/.test(x.value));
    if (s) return s.value;
  } catch {
    // no formatRange
  }
  return ' – ';
}

// TIME_PARTS are the part types of a time of day.
const TIME_PARTS = new Set(['hour', 'minute', 'second', 'fractionalSecond', 'dayPeriod']);

// endTime is one end of a range over two days, its time alone: the parts of
// source ("startRange", "endRange") from its first time part to its last.
function endTime(parts, source) {
  const own = parts.filter((p) => p.source === source);
  const first = own.findIndex((p) => TIME_PARTS.has(p.type));
  let last = own.length - 1;
  while (last >= 0 && !TIME_PARTS.has(own[last].type)) last--;
  return first < 0 ? '' : own.slice(first, last + 1).map((p) => p.value).join('');
}

/**
 * timeRange names the time from start to end (Dates) in locale, without
 * dates, also when the range crosses midnight ("11:45 PM – 12:00 AM").
 * timeZone is the zone of the times (default: the browser's).
 */
export function timeRange(locale, start, end, timeZone) {
  const f = new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit', timeZone });
  let parts;
  try {
    parts = trim(f.formatRangeToParts(start, end));
  } catch {
    return plain(f.format(start) + ' – ' + f.format(end)).trim();
  }
  if (parts.some((p) => DATE_PARTS.has(p.type))) {
    // Each end's time as the range writes it (German "00:00", where a
    // time alone is "0:00"), joined as the locale joins a same-day range.
    const a = endTime(parts, 'startRange') || f.format(start);
    const b = endTime(parts, 'endRange') || f.format(end);
    return plain(a + separator(f) + b).trim();
  }
  return plain(parts.map((p) => p.value).join('')).trim();
}
