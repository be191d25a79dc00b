/* The session's live event stream (Server-Sent Events read from the database).
 *
 * Everything the team does arrives here, each event once and in order: the stream resumes after the
 * last event seen (`?after=` on a new connection; the browser sends Last-Event-ID on its own
 * reconnects) and events already seen are skipped. A refused stream (signed out, access removed) is
 * retried a few seconds after checking the sign-in.
 */

const REFUSED_RETRY_MS = 5000;
// A connection still not open after this long is opened afresh, instead of waiting out the browser's
// own (growing) retry delay: the badge must say "Live" within seconds of the network coming back.
const STALLED_MS = 2500;

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
    this.state = null;
    this.stateSince = 0;
  }

  /** Tell the console about a change of connection state (once per change). */
  setState(kind) {
    if (this.state === kind) { return; }
    this.state = kind;
    this.stateSince = Date.now();
    this.onState(kind);
  }

  /** Called every second: reopen a connection that is stuck reconnecting while the browser is online. */
  watch() {
    const source = this.source;
    if (!source || navigator.onLine === false) { return; }
    if (source.readyState === EventSource.OPEN) {
      // Open and online: a badge left on "reconnecting" by an offline blip is wrong.
      if (this.state === "reconnecting") { this.setState("live"); }
      return;
    }
    if (source.readyState === EventSource.CONNECTING && Date.now() - this.stateSince > STALLED_MS) {
      this.connect();
    }
  }

  /** (Re)open the stream after the last event seen. */
  connect() {
    if (this.source) { this.source.close(); }
    window.clearTimeout(this.retryTimer);
    this.setState("connecting");
    this.stateSince = Date.now();
    const source = new EventSource(`${this.url}?after=${this.lastEventId}`);
    this.source = source;
    source.onopen = () => this.setState("live");
    source.onmessage = (message) => this.receive(message.data);
    source.onerror = () => {
      if (source !== this.source) { return; }
      if (source.readyState === EventSource.CLOSED) {
        // Refused (signed out, or access removed): find out which, then try again.
        this.setState("disconnected");
        this.api.refreshCsrf().then(() => {
          this.retryTimer = window.setTimeout(() => this.connect(), REFUSED_RETRY_MS);
        });
      } else {
        this.setState("reconnecting");
      }
    };
  }

  receive(data) {
    let event;
    try { event = JSON.parse(data); } catch (e) { return; }
    // An event proves the stream live, unless the browser itself says it is offline (a last event can
    // still trickle in over a connection about to drop).
    if (this.source && this.source.readyState === EventSource.OPEN && navigator.onLine !== false) {
      this.setState("live");
    }
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
      this.setState("live");
    }
  }
}
