/* The session's live event stream (Server-Sent Events read from the database).
 *
 * Everything the team does arrives here, each event once and in order: the stream resumes after the
 * last event seen (`?after=` on a new connection; the browser sends Last-Event-ID on its own
 * reconnects) and events already seen are skipped. A refused stream (signed out, access removed) is
 * retried a few seconds after checking the sign-in.
 */

const REFUSED_RETRY_MS = 5000;

/** One session's stream; calls `onEvent(event)` per new event and `onState(kind)` on connection changes. */
export class EventStream {
  constructor({ url, api, onEvent, onState }) {
    this.url = url;
    this.api = api;
    this.onEvent = onEvent;
    this.onState = onState;
    this.source = null;
    this.lastEventId = 0;
    this.retryTimer = null;
  }

  /** (Re)open the stream after the last event seen. */
  connect() {
    if (this.source) { this.source.close(); }
    window.clearTimeout(this.retryTimer);
    this.onState("connecting");
    const source = new EventSource(`${this.url}?after=${this.lastEventId}`);
    this.source = source;
    source.onopen = () => this.onState("live");
    source.onmessage = (message) => this.receive(message.data);
    source.onerror = () => {
      if (source !== this.source) { return; }
      if (source.readyState === EventSource.CLOSED) {
        // Refused (signed out, or access removed): find out which, then try again.
        this.onState("disconnected");
        this.api.refreshCsrf().then(() => {
          this.retryTimer = window.setTimeout(() => this.connect(), REFUSED_RETRY_MS);
        });
      } else {
        this.onState("reconnecting");
      }
    };
  }

  receive(data) {
    let event;
    try { event = JSON.parse(data); } catch (e) { return; }
    if (!event || !(event.id > this.lastEventId)) { return; }
    this.lastEventId = event.id;
    this.onEvent(event);
  }

  /** Reconnect now: when the stream is not open (`evenIfRetrying`), or only when it gave up. */
  revive(evenIfRetrying) {
    const state = this.source ? this.source.readyState : EventSource.CLOSED;
    if (state === EventSource.CLOSED || (evenIfRetrying && state !== EventSource.OPEN)) {
      this.connect();
    } else if (state === EventSource.OPEN) {
      // A short outage can leave the connection standing: say it is live again.
      this.onState("live");
    }
  }
}
