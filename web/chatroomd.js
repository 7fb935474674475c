// chatroomd.js: the JavaScript client of chatroomd's HTTP API (docs/client-guide.md).
// An ES module with no dependencies, for browsers and node >= 18 (global fetch). The bundled
// pages use it; app developers import it from /web/chatroomd.js or copy the file.

/**
 * A message as the daemon sends it (proto3 JSON: 64-bit integers are decimal strings).
 * @typedef {object} Message
 * @property {string} seq            per-room sequence number, strictly increasing
 * @property {boolean} [priority]    true for a priority message (absent means false)
 * @property {string} sender
 * @property {string} [type]         default "text"; "retract" retracts the seq in `body`
 * @property {string} [body]
 * @property {string} ts_ms
 * @property {string} [client_msg_id]
 */

/**
 * @typedef {object} ClientOptions
 * @property {string} room                room id, [A-Za-z0-9_.:-]{1,128}
 * @property {string} [baseUrl]           the daemon's URL; default "" (same origin in a browser)
 * @property {string} [token]             a JWT, sent as `Authorization: Bearer`
 * @property {string} [userId]            development mode only: sent as `X-User-Id`
 * @property {number} [timeoutMs]         a poll's timeout_ms, default 25000
 * @property {number} [limit]             a poll's limit, default 100
 * @property {number} [backlog]           messages a join returns, default 20
 * @property {number} [backoffMs]         first retry delay after an error, default 500
 * @property {number} [maxBackoffMs]      longest retry delay, default 30000
 * @property {number} [sendAttempts]      tries of one send before it fails, default 6
 * @property {number} [requestTimeoutMs]  a non-poll request is aborted after this, default 15000
 * @property {typeof fetch} [fetch]       default globalThis.fetch
 * @property {() => number} [random]      in [0, 1), for jitter and message ids; default Math.random
 */

/** An answer of the daemon that is not a 2xx, or a request that got no answer. */
export class ApiError extends Error {
  /**
   * @param {number} status     HTTP status; 0 when no answer came (network error, abort)
   * @param {string} code       the API's error code (`muted`, `kicked`, ...); `network` or `aborted`
   * @param {string} message    the daemon's `error.message`, or the network error's text
   * @param {number|null} retryAfterMs  from `Retry-After`, when the daemon sent one
   */
  constructor(status, code, message, retryAfterMs = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }

  /** True for errors worth retrying: no answer, 5xx, 429. */
  get retryable() {
    return this.code === 'network' || this.status >= 500 || this.status === 429;
  }
}

/** The event every dispatch carries; `detail` as documented per event type. */
export class ChatEvent extends Event {
  /** @param {string} type @param {any} detail */
  constructor(type, detail) {
    super(type);
    this.detail = detail;
  }
}

// How many priority seqs are remembered to drop repeats after a re-join.
const kSeenPriority = 1000;

/**
 * One user in one room: join, the poll loop, send, history, moderation.
 *
 * Events (each a ChatEvent; listen with addEventListener):
 * - `message`  {message, backlog}: a normal message (backlog: it came with a join)
 * - `priority` {message, backlog}: a priority message (never skipped, never repeated)
 * - `retract`  {seq, message}: the message `seq` was retracted; remove it
 * - `gap`      {afterSeq, beforeSeq}: normal messages with afterSeq < seq < beforeSeq were
 *              skipped (afterSeq null: unknown); load them with history({before: beforeSeq})
 * - `online`   {count}: the room's online count (a number)
 * - `joined`   {room, online, cursor}
 * - `state`    {state, error}: `idle`, `connecting`, `live`, `retrying`, `stopped`
 * - `error`    {error, retryInMs}: a poll failed and will be retried in retryInMs
 * - `stopped`  {reason, error}: the loop stopped: `stop` (stop() was called) or the error code
 *              (`unauthorized`, `forbidden`, `kicked`, ...)
 */
export class ChatroomClient extends EventTarget {
  /** @param {ClientOptions} options */
  constructor(options) {
    super();
    if (!options || !options.room) throw new TypeError('options.room is required');
    this.room = options.room;
    this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    this.token = options.token ?? null;
    this.userId = options.userId ?? null;
    this.timeoutMs = options.timeoutMs ?? 25000;
    this.limit = options.limit ?? 100;
    this.backlog = options.backlog ?? 20;
    this.backoffMs = options.backoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 30000;
    this.sendAttempts = options.sendAttempts ?? 6;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15000;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.random = options.random ?? Math.random;
    /** The last good cursor: only ever a value the daemon sent. @type {string|null} */
    this.cursor = null;
    /** The highest normal seq seen, as a string. @type {string|null} */
    this.lastSeq = null;
    /** @type {'idle'|'connecting'|'live'|'retrying'|'stopped'} */
    this.state = 'idle';
    this.online = null;
    this.nextPollMs = 0;
    this._loop = null;
    this._abort = null;
    this._failures = 0;
    this._seenPriority = new Set();
    this._gapOnJoin = false;
    this._idPrefix = makeIdPrefix(this.random);
    this._idCounter = 0;
  }

  // --- the poll loop ---------------------------------------------------------------------

  /** Starts the poll loop (joining first when there is no cursor). Resolves when it stops. */
  start() {
    if (this._loop) return this._loop;
    this._abort = new AbortController();
    this._loop = this._run(this._abort.signal).finally(() => {
      this._loop = null;
    });
    return this._loop;
  }

  /** Stops the loop: aborts the held poll and any wait at once. Keeps the cursor. */
  stop() {
    if (this._abort) this._abort.abort();
  }

  async _run(signal) {
    this._setState('connecting');
    let reason = 'stop';
    let error = null;
    while (!signal.aborted) {
      try {
        if (this.cursor === null) {
          await this.join({ signal });
        } else {
          await this._pollOnce(signal);
        }
        this._failures = 0;
        if (this.nextPollMs > 0) await sleep(this.nextPollMs, signal);
      } catch (e) {
        if (signal.aborted) break;
        const err = toApiError(e);
        if (err.code === 'bad_cursor') {
          // Unusable cursor: join again at once (the join reports what was skipped as a gap).
          this.cursor = null;
          this._gapOnJoin = true;
          if (this._failures++ === 0) continue;
        } else if (err.code === 'room_not_found') {
          // The room is gone from memory and was not re-created: join (which creates it when
          // the daemon auto-creates) and go on polling from the cursor we had.
          const joined = await this._rejoinKeepingCursor(signal).then(() => true, () => false);
          if (joined && this._failures++ === 0) continue;
        } else if (!err.retryable) {
          reason = err.code;
          error = err;
          break;
        }
        const wait = this._retryDelay(err, this._failures++);
        this._setState('retrying', err);
        this._emit('error', { error: err, retryInMs: wait });
        try {
          await sleep(wait, signal);
        } catch {
          break;
        }
      }
    }
    this._setState('stopped', error);
    this._emit('stopped', { reason, error });
  }

  async _rejoinKeepingCursor(signal) {
    const keep = this.cursor;
    await this._request('POST', `/v1/rooms/${enc(this.room)}/join`, { backlog: 0 }, { signal });
    this.cursor = keep;
  }

  async _pollOnce(signal) {
    const q = new URLSearchParams({
      cursor: this.cursor,
      timeout_ms: String(this.timeoutMs),
      limit: String(this.limit),
    });
    const r = await this._request('GET', `/v1/rooms/${enc(this.room)}/poll?${q}`, undefined, {
      signal,
      timeoutMs: this.timeoutMs + 15000,
    });
    this._setState('live');
    const messages = r.messages ?? [];
    if (r.gap) {
      const firstNormal = messages.find((m) => !m.priority);
      this._emit('gap', { afterSeq: this.lastSeq, beforeSeq: firstNormal ? firstNormal.seq : null });
    }
    this._deliver(messages, false);
    this._setOnline(r.online);
    this.nextPollMs = Number(r.next_poll_ms ?? 0);
    if (typeof r.cursor === 'string' && r.cursor !== '') this.cursor = r.cursor;
  }

  _retryDelay(err, failures) {
    if (err.retryAfterMs !== null && err.retryAfterMs !== undefined) {
      // Honour Retry-After, spreading clients over a tenth more so they do not return at once.
      return err.retryAfterMs + Math.floor(this.random() * err.retryAfterMs * 0.1);
    }
    // Exponential backoff with jitter: half fixed, half random, capped.
    const ceiling = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** Math.min(failures, 16));
    return Math.floor(ceiling / 2 + this.random() * (ceiling / 2));
  }

  // --- room calls ------------------------------------------------------------------------

  /**
   * Joins the room (creating it when the daemon auto-creates) and takes the cursor at the head.
   * Dispatches the backlog as `message`/`priority` events (backlog: true) and `joined`.
   * @param {{backlog?: number, signal?: AbortSignal}} [opts]
   * @returns {Promise<{room: string, cursor: string, messages: Message[], online: number, next_poll_ms: number}>}
   */
  async join(opts = {}) {
    const r = await this._request(
      'POST', `/v1/rooms/${enc(this.room)}/join`, { backlog: opts.backlog ?? this.backlog },
      { signal: opts.signal });
    this.cursor = r.cursor;
    this.nextPollMs = Number(r.next_poll_ms ?? 0);
    this._setState('live');
    const messages = r.messages ?? [];
    if (this._gapOnJoin && this.lastSeq !== null) {
      const first = messages.find((m) => !m.priority && BigInt(m.seq) > BigInt(this.lastSeq));
      if (first) this._emit('gap', { afterSeq: this.lastSeq, beforeSeq: first.seq });
    }
    this._gapOnJoin = false;
    this._deliver(messages, true);
    this._setOnline(r.online);
    this._emit('joined', { room: r.room, online: this.online, cursor: r.cursor });
    return { ...r, online: this.online, next_poll_ms: this.nextPollMs };
  }

  _deliver(messages, backlog) {
    for (const m of messages) {
      if (m.priority) {
        if (this._seenPriority.has(m.seq)) continue;
        this._seenPriority.add(m.seq);
        if (this._seenPriority.size > kSeenPriority) {
          this._seenPriority.delete(this._seenPriority.values().next().value);
        }
        if (m.type === 'retract') {
          this._emit('retract', { seq: m.body, message: m });
          continue;
        }
        this._emit('priority', { message: m, backlog });
      } else {
        if (this.lastSeq !== null && BigInt(m.seq) <= BigInt(this.lastSeq)) continue;
        this.lastSeq = m.seq;
        this._emit('message', { message: m, backlog });
      }
    }
  }

  /**
   * Sends a message. Gives it a `client_msg_id` (unless one is passed) and retries with the
   * same id after a network error, a 5xx or a 429 (after its Retry-After), so a retry never
   * makes a second message: the daemon answers the first seq with duplicate: true.
   * @param {string} body
   * @param {{type?: string, priority?: boolean, clientMsgId?: string, signal?: AbortSignal}} [opts]
   * @returns {Promise<{seq: string, duplicate: boolean, client_msg_id: string}>}
   */
  async send(body, opts = {}) {
    const clientMsgId = opts.clientMsgId ?? this.nextClientMsgId();
    const payload = { body, client_msg_id: clientMsgId };
    if (opts.type !== undefined) payload.type = opts.type;
    if (opts.priority) payload.priority = true;
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await this._request('POST', `/v1/rooms/${enc(this.room)}/messages`, payload,
                                      { signal: opts.signal });
        return { seq: r.seq, duplicate: Boolean(r.duplicate), client_msg_id: clientMsgId };
      } catch (e) {
        const err = toApiError(e);
        if (err.code === 'not_joined' && attempt === 0) {
          // Not online here any more (a restart, a long pause): join again, keep the cursor.
          await this._rejoinKeepingCursor(opts.signal);
          continue;
        }
        if (!err.retryable || attempt + 1 >= this.sendAttempts || opts.signal?.aborted) throw err;
        await sleep(this._retryDelay(err, attempt), opts.signal);
      }
    }
  }

  /** A fresh client_msg_id: this client's random prefix and a counter. */
  nextClientMsgId() {
    this._idCounter += 1;
    return `${this._idPrefix}-${this._idCounter}`;
  }

  /**
   * One page of history: the `limit` messages before seq `before` (default: the head),
   * ascending. `next_before` is absent at the start of the room.
   * @param {{before?: string|number, limit?: number}} [opts]
   * @returns {Promise<{messages: Message[], next_before?: string}>}
   */
  async history(opts = {}) {
    const q = new URLSearchParams();
    if (opts.before !== undefined && opts.before !== null) q.set('before', String(opts.before));
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    const r = await this._request('GET', `/v1/rooms/${enc(this.room)}/messages?${q}`);
    return { messages: r.messages ?? [], next_before: r.next_before };
  }

  /** Leaves the room (stops counting as online); stops the loop too. */
  async leave() {
    this.stop();
    await this._request('POST', `/v1/rooms/${enc(this.room)}/leave`);
  }

  /** Retracts message `seq` (the sender's own, or any as an admin). @param {string|number} seq */
  async retract(seq) {
    await this._request('DELETE', `/v1/rooms/${enc(this.room)}/messages/${enc(String(seq))}`);
  }

  /** @param {{limit?: number}} [opts] @returns {Promise<{count: string, users: string[], as_of_ms: string}>} */
  async onlineUsers(opts = {}) {
    const q = opts.limit !== undefined ? `?limit=${opts.limit}` : '';
    const r = await this._request('GET', `/v1/rooms/${enc(this.room)}/online${q}`);
    return { count: r.count ?? '0', users: r.users ?? [], as_of_ms: r.as_of_ms };
  }

  /** The room's stats (online, peak, uv_hour, uv_day, messages, vip, sect). */
  stats() {
    return this._request('GET', `/v1/rooms/${enc(this.room)}/stats`);
  }

  /** Distinct visitors over UTC days. @param {string} from YYYY-MM-DD @param {string} to */
  visitors(from, to) {
    const q = new URLSearchParams({ from, to });
    return this._request('GET', `/v1/rooms/${enc(this.room)}/visitors?${q}`);
  }

  // --- admin calls (need an admin token, or development mode) ----------------------------

  /** @param {string} user @param {number} seconds (0 lifts the mute) */
  async mute(user, seconds) {
    await this._request('POST', `/v1/admin/rooms/${enc(this.room)}/mute`, { user, seconds });
  }

  /** @param {string} user @param {number} seconds (0 lifts the kick) */
  async kick(user, seconds) {
    await this._request('POST', `/v1/admin/rooms/${enc(this.room)}/kick`, { user, seconds });
  }

  /** Moves the room to or from the VIP sect; answers the room's stats. @param {boolean} vip */
  setVip(vip) {
    return this._request('PUT', `/v1/admin/rooms/${enc(this.room)}`, { vip: Boolean(vip) });
  }

  /** The sects with their ranges, rooms, held polls, online users and loop lag. */
  sects() {
    return this._request('GET', '/v1/admin/sects');
  }

  /** Re-reads the daemon's config files (like SIGHUP). */
  async reload() {
    await this._request('POST', '/v1/admin/reload');
  }

  // --- plumbing ----------------------------------------------------------------------------

  /** The auth headers this client sends. @returns {Record<string, string>} */
  authHeaders() {
    if (this.token) return { Authorization: `Bearer ${this.token}` };
    if (this.userId) return { 'X-User-Id': this.userId };
    return {};
  }

  /**
   * One request; resolves to the parsed JSON body (or null for 204), rejects with ApiError.
   * @param {string} method @param {string} path @param {any} [body]
   * @param {{signal?: AbortSignal, timeoutMs?: number}} [opts]
   */
  async _request(method, path, body, opts = {}) {
    const controller = new AbortController();
    const outer = opts.signal;
    const onAbort = () => controller.abort();
    if (outer) {
      if (outer.aborted) throw new ApiError(0, 'aborted', 'aborted');
      outer.addEventListener('abort', onAbort, { once: true });
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, opts.timeoutMs ?? this.requestTimeoutMs);
    const headers = { Accept: 'application/json', ...this.authHeaders() };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    let text;
    try {
      res = await this.fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
      });
      text = await res.text();
    } catch (e) {
      if (outer?.aborted) throw new ApiError(0, 'aborted', 'aborted');
      throw new ApiError(0, 'network', timedOut ? 'request timed out' : String(e?.message ?? e));
    } finally {
      clearTimeout(timer);
      if (outer) outer.removeEventListener('abort', onAbort);
    }
    let json = null;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
    }
    if (res.ok) return json;
    const retryAfter = parseRetryAfter(res.headers.get('Retry-After'));
    const code = json?.error?.code ?? (res.status >= 500 ? 'internal' : `http_${res.status}`);
    const message = json?.error?.message ?? `HTTP ${res.status}`;
    throw new ApiError(res.status, code, message, retryAfter);
  }

  _setOnline(value) {
    if (value === undefined || value === null) return;
    const count = Number(value);
    if (count === this.online) return;
    this.online = count;
    this._emit('online', { count });
  }

  _setState(state, error = null) {
    if (this.state === state && !error) return;
    this.state = state;
    this._emit('state', { state, error });
  }

  _emit(type, detail) {
    this.dispatchEvent(new ChatEvent(type, detail));
  }
}

function enc(s) {
  return encodeURIComponent(s);
}

function toApiError(e) {
  return e instanceof ApiError ? e : new ApiError(0, 'network', String(e?.message ?? e));
}

/** Retry-After in seconds (the daemon's form) or an HTTP date, as milliseconds. */
function parseRetryAfter(value) {
  if (value === null || value === undefined || value === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

/** Resolves after ms; rejects at once when signal aborts. */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ApiError(0, 'aborted', 'aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ApiError(0, 'aborted', 'aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function makeIdPrefix(random) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = 'c';
  for (let i = 0; i < 10; i++) s += alphabet[Math.floor(random() * alphabet.length)];
  return s;
}
