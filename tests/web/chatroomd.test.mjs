// Unit tests of web/chatroomd.js under node's own runner, against a small HTTP server written
// here that answers each request as the test says (real sockets, real fetch).
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';

import { ApiError, ChatroomClient } from '../../web/chatroomd.js';

/**
 * A scripted daemon: `handle(req)` answers each request; `req` has method, path, query, headers
 * and the parsed JSON body. Return {status, headers, body} (body an object), `'drop'` to close
 * the connection without an answer, or `'hold'` to never answer.
 */
async function scripted(handle) {
  const requests = [];
  const waiters = [];
  const server = http.createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const url = new URL(req.url, 'http://x');
    const r = {
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: raw ? JSON.parse(raw) : undefined,
      at: Date.now(),
      closed: false,
    };
    res.on('close', () => {
      r.closed = true;
    });
    requests.push(r);
    waiters.splice(0).forEach((w) => w());
    const out = await handle(r, requests);
    if (out === 'hold') return;
    if (out === 'drop') {
      req.socket.destroy();
      return;
    }
    res.writeHead(out.status ?? 200, { 'Content-Type': 'application/json', ...out.headers });
    res.end(out.body === undefined ? '' : JSON.stringify(out.body));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${server.address().port}`;
  return {
    baseUrl,
    requests,
    /** Resolves once `count` requests matched `pred`. */
    async waitFor(pred, count = 1, timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.filter(pred).length < count) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} requests`);
        await new Promise((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return requests.filter(pred);
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

const msg = (seq, extra = {}) => ({ seq: String(seq), sender: 'alice', type: 'text', body: `m${seq}`,
  ts_ms: '1763900000000', ...extra });
const isPoll = (r) => r.path.endsWith('/poll');
const isJoin = (r) => r.path.endsWith('/join');

function collect(client, ...types) {
  const events = [];
  for (const t of types) client.addEventListener(t, (e) => events.push({ type: t, ...e.detail }));
  return events;
}

test('join takes the cursor; each poll echoes the last cursor exactly', async (t) => {
  let n = 0;
  const s = await scripted((r) => {
    if (isJoin(r)) return { body: { room: 'r1', cursor: 'c-join', messages: [msg(1)], online: '3', next_poll_ms: 0 } };
    n += 1;
    if (n <= 3) return { body: { room: 'r1', cursor: `c-${n}`, messages: [msg(1 + n)], gap: false, online: '4' } };
    return 'hold';
  });
  t.after(() => s.close());
  const c = new ChatroomClient({ room: 'r1', baseUrl: s.baseUrl, userId: 'alice' });
  const events = collect(c, 'message', 'online');
  const loop = c.start();
  const polls = await s.waitFor(isPoll, 4);
  assert.deepEqual(polls.map((p) => p.query.cursor), ['c-join', 'c-1', 'c-2', 'c-3']);
  assert.equal(polls[0].query.timeout_ms, '25000');
  assert.equal(polls[0].headers['x-user-id'], 'alice');
  assert.equal(isJoin(s.requests[0]), true);
  assert.deepEqual(s.requests[0].body, { backlog: 20 });
  c.stop();
  await loop;
  assert.deepEqual(events.filter((e) => e.type === 'message').map((e) => e.message.seq), ['1', '2', '3', '4']);
  assert.deepEqual(events.filter((e) => e.type === 'online').map((e) => e.count), [3, 4]);
  assert.equal(c.cursor, 'c-3');
});

test('waits next_poll_ms between polls', async (t) => {
  let n = 0;
  const s = await scripted((r) => {
    if (isJoin(r)) return { body: { cursor: 'c0', messages: [], online: '1', next_poll_ms: 400 } };
    n += 1;
    return n < 3 ? { body: { cursor: `c${n}`, messages: [], online: '1', next_poll_ms: 400 } } : 'hold';
  });
  t.after(() => s.close());
  const c = new ChatroomClient({ room: 'r1', baseUrl: s.baseUrl, userId: 'u' });
  const loop = c.start();
  await s.waitFor(isPoll, 3);
  const at = s.requests.map((r) => r.at);
  for (let i = 1; i < at.length; i++) assert.ok(at[i] - at[i - 1] >= 380, `gap ${i}: ${at[i] - at[i - 1]} ms`);
  c.stop();
  await loop;
});

test('honours Retry-After on 503 and 429, and polls again from the last good cursor', async (t) => {
  let n = 0;
  const s = await scripted((r) => {
    if (isJoin(r)) return { body: { cursor: 'good', messages: [] } };
    n += 1;
    if (n === 1) return { status: 503, headers: { 'Retry-After': '1' }, body: { error: { code: 'overloaded', message: 'busy' } } };
    if (n === 2) return { status: 429, headers: { 'Retry-After': '1' }, body: { error: { code: 'rate_limited', message: 'slow' } } };
    return 'hold';
  });
  t.after(() => s.close());
  const c = new ChatroomClient({ room: 'r1', baseUrl: s.baseUrl, userId: 'u', backoffMs: 10 });
  const errors = collect(c, 'error');
  const loop = c.start();
  const polls = await s.waitFor(isPoll, 3);
  assert.ok(polls[1].at - polls[0].at >= 990, `${polls[1].at - polls[0].at} ms after the 503`);
  assert.ok(polls[2].at - polls[1].at >= 990, `${polls[2].at - polls[1].at} ms after the 429`);
  assert.deepEqual(polls.map((p) => p.query.cursor), ['good', 'good', 'good']);
  assert.deepEqual(errors.map((e) => e.error.code), ['overloaded', 'rate_limited']);
  assert.ok(errors.every((e) => e.retryInMs >= 1000 && e.retryInMs <= 1100));
  c.stop();
  await loop;
});

test('backs off with jitter on network errors and 5xx, then resumes from its cursor', async (t) => {
  let n = 0;
  const s = await scripted((r) => {
    if (isJoin(r)) return { body: { cursor: 'c0', messages: [] } };
    n += 1;
    if (n === 1) return { body: { cursor: 'c1', messages: [msg(5)] } };
    if (n <= 3) return 'drop';
    if (n === 4) return { status: 500, body: { error: { code: 'internal', message: 'oops' } } };
    if (n === 5) return { status: 502, body: 'not json' };
    if (n === 6) return { body: { cursor: 'c2', messages: [msg(6)] } };
    return 'hold';
  });
  t.after(() => s.close());
  const randoms = [0.0, 0.99, 0.5, 0.25];
  let i = 0;
  const c = new ChatroomClient({ room: 'r1', baseUrl: s.baseUrl, userId: 'u', backoffMs: 40,
    maxBackoffMs: 200, random: () => randoms[i++ % randoms.length] });
  const events = collect(c, 'error', 'message', 'state');
  const loop = c.start();
  const polls = await s.waitFor(isPoll, 7);
  assert.deepEqual(polls.map((p) => p.query.cursor), ['c0', 'c1', 'c1', 'c1', 'c1', 'c1', 'c2']);
  const errors = events.filter((e) => e.type === 'error');
  assert.deepEqual(errors.map((e) => e.error.code), ['network', 'network', 'internal', 'internal']);
  // Ceilings 40, 80, 160, 200 (capped); each wait is in [ceiling/2, ceiling).
  const ceilings = [40, 80, 160, 200];
  errors.forEach((e, k) => {
    assert.ok(e.retryInMs >= ceilings[k] / 2 && e.retryInMs < ceilings[k], `${k}: ${e.retryInMs}`);
  });
  assert.notEqual(new Set(errors.map((e) => e.retryInMs / ceilings[errors.indexOf(e)])).size, 1,
    'jitter: not every wait is the same fraction of its ceiling');
  assert.ok(events.some((e) => e.type === 'state' && e.state === 'retrying'));
  assert.deepEqual(events.filter((e) => e.type === 'message').map((e) => e.message.seq), ['5', '6']);
  c.stop();
  await loop;
});

test('send retries with the same client_msg_id after a network error, a 5xx and a 429', async (t) => {
  let n = 0;
  const s = await scripted((r) => {
    if (r.path.endsWith('/messages') && r.method === 'POST') {
      n += 1;
      if (n === 1) return 'drop';
      if (n === 2) return { status: 503, headers: { 'Retry-After': '0' }, body: { error: { code: 'overloaded', message: 'x' } } };
      if (n === 3) return { status: 429, headers: { 'Retry-After': '0' }, body: { error: { code: 'rate_limited', message: 'x' } } };
      return { body: { seq: '43', duplicate: true } };
    }
    return { status: 404, body: { error: { code: 'not_found', message: 'x' } } };
  });
  t.after(() => s.close());
  const c = new ChatroomClient({ room: 'r1', baseUrl: s.baseUrl, token: 'tok', backoffMs: 5 });
  const r = await c.send('hello');
  assert.deepEqual(r, { seq: '43', duplicate: true, client_msg_id: r.client_msg_id });
  const sends = s.requests.filter((q) => q.path === '/v1/rooms/r1/messages');
  assert.equal(sends.length, 4);
  assert.ok(/^[\x21-\x7e]{1,128}$/.test(r.client_msg_id));
  for (const q of sends) {
    assert.equal(q.body.client_msg_id, r.client_msg_id);
    assert.equal(q.body.body, 'hello');
    assert.equal(q.headers.authorization, 'Bearer tok');
  }
  const next = await c.send('again').catch((e) => e);
  assert.notEqual(s.requests.at(-1).body.client_msg_id, r.client_msg_id, 'a new send, a new id');
  assert.ok(next.seq);
});

test('send does not retry what retrying cannot fix, and gives up after sendAttempts', async (t) => {
  const s = await scripted((r) => {
    if (r.body?.body === 'muted') return { status: 403, body: { error: { code: 'muted', message: 'you are muted' } } };
    return { status: 500, body: { error: { code: 'internal', message: 'down' } } };
  });
  t.after(() => s.close());
  const c = new ChatroomClient({ room: 'r1', baseUrl: s.baseUrl, userId: 'u', backoffMs: 2, sendAttempts: 3 });
  const muted = await c.send('muted').catch((e) => e);
  assert.ok(muted instanceof ApiError);
  assert.equal(muted.code, 'muted');
  assert.equal(muted.message, 'you are muted');
  assert.equal(muted.status, 403);
  assert.equal(s.requests.length, 1);
  const down = await c.send('x').catch((e) => e);
  assert.equal(down.code, 'internal');
  assert.equal(s.requests.length, 4);
});

test('gap, priority and retract events', async (t) => {
  let n = 0;
  const s = await scripted((r) => {
    if (isJoin(r)) return { body: { cursor: 'c0', messages: [msg(7, { priority: true }), msg(10)] } };
    n += 1;
    if (n === 1) {
      return { body: { cursor: 'c1', gap: true, messages: [
        msg(12, { priority: true, sender: 'host' }), msg(13, { priority: true, type: 'retract', body: '10' }),
        msg(50), msg(51)] } };
    }
    if (n === 2) return { body: { cursor: 'c2', messages: [msg(7, { priority: true }), msg(52)] } };
    return 'hold';
  });
  t.after(() => s.close());
  const c = new ChatroomClient({ room: 'r1', baseUrl: s.baseUrl, userId: 'u' });
  const events = collect(c, 'message', 'priority', 'retract', 'gap');
  const loop = c.start();
  await s.waitFor(isPoll, 3);
  c.stop();
  await loop;
  const summary = events.map((e) => `${e.type}:${e.seq ?? e.message?.seq ?? `${e.afterSeq}-${e.beforeSeq}`}`);
  assert.deepEqual(summary, ['priority:7', 'message:10', 'gap:10-50', 'priority:12', 'retract:10',
    'message:50', 'message:51', 'message:52']);
  assert.equal(events[0].backlog, true);
  assert.equal(events.find((e) => e.type === 'priority' && e.message.seq === '12').backlog, false);
});

test('stop() aborts a held poll at once and keeps the cursor', async (t) => {
  const s = await scripted((r) => (isJoin(r) ? { body: { cursor: 'c0', messages: [] } } : 'hold'));
  t.after(() => s.close());
  const c = new ChatroomClient({ room: 'r1', baseUrl: s.baseUrl, userId: 'u' });
  const events = collect(c, 'stopped', 'state');
  const loop = c.start();
  const [poll] = await s.waitFor(isPoll);
  const t0 = Date.now();
  c.stop();
  await loop;
  assert.ok(Date.now() - t0 < 2000);
  assert.deepEqual(events.filter((e) => e.type === 'stopped').map((e) => e.reason), ['stop']);
  assert.equal(c.state, 'stopped');
  assert.equal(c.cursor, 'c0');
  await s.waitFor(() => poll.closed, 1, 2000).catch(() => {});
  assert.equal(poll.closed, true, 'the held request was closed');
});

test('401 and 403 kicked stop the loop with an event', async (t) => {
  for (const [status, code] of [[401, 'unauthorized'], [403, 'kicked'], [403, 'forbidden']]) {
    const s = await scripted((r) => (isJoin(r) ? { body: { cursor: 'c0', messages: [] } }
      : { status, body: { error: { code, message: `no: ${code}` } } }));
    const c = new ChatroomClient({ room: 'r1', baseUrl: s.baseUrl, userId: 'u', backoffMs: 5 });
    const stopped = collect(c, 'stopped');
    await c.start();
    await s.close();
    assert.equal(stopped.length, 1);
    assert.equal(stopped[0].reason, code);
    assert.equal(stopped[0].error.message, `no: ${code}`);
    assert.equal(s.requests.filter(isPoll).length, 1, `${code}: not retried`);
  }
});

test('bad_cursor joins again and reports the skipped messages as a gap', async (t) => {
  let joins = 0;
  const s = await scripted((r) => {
    if (isJoin(r)) {
      joins += 1;
      return joins === 1 ? { body: { cursor: 'c0', messages: [msg(10)] } }
        : { body: { cursor: 'fresh', messages: [msg(9), msg(10), msg(30)] } };
    }
    if (r.query.cursor === 'c0') return { status: 400, body: { error: { code: 'bad_cursor', message: 'x' } } };
    return 'hold';
  });
  t.after(() => s.close());
  const c = new ChatroomClient({ room: 'r1', baseUrl: s.baseUrl, userId: 'u' });
  const events = collect(c, 'message', 'gap');
  const loop = c.start();
  const polls = await s.waitFor(isPoll, 2);
  assert.equal(polls[1].query.cursor, 'fresh');
  c.stop();
  await loop;
  assert.deepEqual(events.map((e) => `${e.type}:${e.message?.seq ?? `${e.afterSeq}-${e.beforeSeq}`}`),
    ['message:10', 'gap:10-30', 'message:30']);
});

test('seqs past 2^53 compare exactly (decimal strings)', async (t) => {
  const s = await scripted((r) => (isJoin(r)
    ? { body: { cursor: 'c0', messages: [msg('9007199254740993')] } }
    : r.query.cursor === 'c0' ? { body: { cursor: 'c1', messages: [msg('9007199254740993'), msg('9007199254740994')] } }
      : 'hold'));
  t.after(() => s.close());
  const c = new ChatroomClient({ room: 'r1', baseUrl: s.baseUrl, userId: 'u' });
  const events = collect(c, 'message');
  const loop = c.start();
  await s.waitFor(isPoll, 2);
  c.stop();
  await loop;
  assert.deepEqual(events.map((e) => e.message.seq), ['9007199254740993', '9007199254740994']);
});

test('history, admin calls and their paths', async (t) => {
  const s = await scripted((r) => {
    if (r.path === '/v1/rooms/r%3A1/messages' && r.method === 'GET') {
      return { body: { messages: [msg(3)], next_before: '3' } };
    }
    if (r.method === 'PUT') return { body: { room: 'r:1', vip: r.body.vip } };
    if (r.path === '/v1/admin/sects') return { body: { sects: [{ name: 'normal-1' }] } };
    if (r.path.endsWith('/online')) return { body: { count: '2', users: ['a', 'b'] } };
    return { status: 204 };
  });
  t.after(() => s.close());
  const c = new ChatroomClient({ room: 'r:1', baseUrl: `${s.baseUrl}/`, userId: 'boss' });
  assert.deepEqual(await c.history({ before: '10', limit: 5 }), { messages: [msg(3)], next_before: '3' });
  assert.deepEqual(s.requests.at(-1).query, { before: '10', limit: '5' });
  await c.mute('bob', 60);
  assert.deepEqual([s.requests.at(-1).path, s.requests.at(-1).body], ['/v1/admin/rooms/r%3A1/mute', { user: 'bob', seconds: 60 }]);
  await c.kick('bob', 0);
  assert.equal(s.requests.at(-1).path, '/v1/admin/rooms/r%3A1/kick');
  assert.equal((await c.setVip(true)).vip, true);
  assert.equal((await c.sects()).sects[0].name, 'normal-1');
  assert.deepEqual((await c.onlineUsers({ limit: 5 })).users, ['a', 'b']);
  await c.retract('12');
  assert.deepEqual([s.requests.at(-1).method, s.requests.at(-1).path], ['DELETE', '/v1/rooms/r%3A1/messages/12']);
  await c.reload();
  assert.equal(s.requests.at(-1).path, '/v1/admin/reload');
});
