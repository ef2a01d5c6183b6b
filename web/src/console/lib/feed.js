// The console's live feed: GET /console/events as server-sent events, of
// the operator's queues (each event's data is a console.FeedEvent). The
// browser reconnects by itself after a drop, from the last id it saw.

/**
 * Follows the feed.
 * @param {{queues?: string[], types?: string[]}} filter only these queues and
 *   event types (a type ending in "." is a prefix); empty: all the operator's.
 * @param {(ev: object) => void} onEvent called with each event, in order.
 * @param {(state: 'open'|'reconnecting'|'closed') => void} [onState] the connection's state.
 * @returns {() => void} stops following.
 */
export function follow(filter, onEvent, onState = () => {}) {
  const q = new URLSearchParams();
  for (const id of filter.queues || []) q.append('queue', id);
  for (const t of filter.types || []) q.append('type', t);
  const qs = q.toString();
  const es = new EventSource('/console/events' + (qs ? '?' + qs : ''));
  es.onopen = () => onState('open');
  es.onerror = () => onState(es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
  es.onmessage = (m) => {
    try {
      onEvent(JSON.parse(m.data));
    } catch {
      // A malformed event is skipped.
    }
  };
  return () => {
    es.close();
    onState('closed');
  };
}
