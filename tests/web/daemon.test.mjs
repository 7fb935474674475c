// web/chatroomd.js against the real daemon (development mode): what the scripted tests assume
// about the daemon's answers holds for the real one.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ChatroomClient } from '../../web/chatroomd.js';
import { Daemon, waitUntil } from './daemon.mjs';

let daemon;
before(async () => {
  daemon = await new Daemon().start();
});
after(() => daemon?.close());

const client = (room, userId, extra = {}) =>
  new ChatroomClient({ room, userId, baseUrl: daemon.baseUrl, timeoutMs: 5000, ...extra });

function collect(c, ...types) {
  const events = [];
  for (const t of types) c.addEventListener(t, (e) => events.push({ type: t, ...e.detail }));
  return events;
}

test('two clients exchange messages; a repeated client_msg_id is a duplicate', async () => {
  const alice = client('mod-chat', 'alice');
  const bob = client('mod-chat', 'bob');
  const got = collect(bob, 'message', 'online');
  const loops = [alice.start(), bob.start()];
  await waitUntil(() => alice.cursor && bob.cursor, 'both joined');
  const first = await alice.send('hello bob', { clientMsgId: 'same-1' });
  assert.equal(first.duplicate, false);
  const again = await alice.send('hello bob', { clientMsgId: 'same-1' });
  assert.deepEqual(again, { ...first, duplicate: true });
  await alice.send('second');
  await waitUntil(() => got.filter((e) => e.type === 'message').length >= 2, 'bob got both');
  const bodies = got.filter((e) => e.type === 'message').map((e) => `${e.message.sender}:${e.message.body}`);
  assert.deepEqual(bodies, ['alice:hello bob', 'alice:second']);
  assert.ok(got.some((e) => e.type === 'online' && e.count >= 1));
  alice.stop();
  bob.stop();
  await Promise.all(loops);
});

test('priority first, retraction, history paging', async () => {
  const boss = client('mod-prio', 'boss');
  await boss.join();
  const seqs = [];
  for (let i = 0; i < 5; i++) seqs.push((await boss.send(`n${i}`)).seq);
  const viewer = client('mod-prio', 'viewer');
  const events = collect(viewer, 'message', 'priority', 'retract');
  await viewer.join({ backlog: 2 });
  assert.deepEqual(events.map((e) => e.message.body), ['n3', 'n4']);
  const loop = viewer.start();
  const p = await boss.send('gift!', { priority: true, type: 'gift' });
  await waitUntil(() => events.some((e) => e.type === 'priority'), 'the priority event');
  assert.equal(events.find((e) => e.type === 'priority').message.seq, p.seq);
  await boss.retract(seqs[4]);
  await waitUntil(() => events.some((e) => e.type === 'retract'), 'the retract event');
  assert.equal(events.find((e) => e.type === 'retract').seq, seqs[4]);
  viewer.stop();
  await loop;

  // History holds the retraction marker too (a priority message), and no longer n4.
  const page1 = await viewer.history({ limit: 3 });
  assert.deepEqual(page1.messages.map((m) => `${m.type ?? 'text'}:${m.body}`),
    ['text:n3', 'gift:gift!', `retract:${seqs[4]}`]);
  const page2 = await viewer.history({ before: page1.next_before, limit: 3 });
  assert.deepEqual(page2.messages.map((m) => m.body), ['n0', 'n1', 'n2']);
  assert.equal(page2.next_before, undefined);
});

test('a muted user gets muted; a kicked user\'s loop stops with kicked', async () => {
  const admin = client('mod-moderation', 'admin');
  const bob = client('mod-moderation', 'bob');
  await admin.join();
  const stopped = collect(bob, 'stopped');
  const loop = bob.start();
  await waitUntil(() => bob.cursor, 'bob joined');
  await admin.mute('bob', 60);
  const err = await bob.send('let me talk').catch((e) => e);
  assert.equal(err.code, 'muted');
  assert.equal(err.status, 403);
  await waitUntil(async () => (await admin.onlineUsers()).users.includes('bob'), 'bob online');
  await admin.kick('bob', 60);
  await loop;
  assert.equal(stopped[0].reason, 'kicked');
  const stats = await admin.stats();
  assert.equal(stats.room, 'mod-moderation');
  const vip = await admin.setVip(true);
  assert.equal(vip.vip, true);
  const sects = await admin.sects();
  assert.ok(Array.isArray(sects.sects) && sects.sects.length >= 1);
});

test('the loop resumes from its cursor after the daemon restarts', async () => {
  const alice = client('mod-restart', 'alice', { backoffMs: 100, maxBackoffMs: 500 });
  const bob = client('mod-restart', 'bob', { backoffMs: 100, maxBackoffMs: 500 });
  const got = collect(bob, 'message', 'error');
  await alice.join();
  const loop = bob.start();
  await waitUntil(() => bob.cursor, 'bob joined');
  await alice.send('before');
  await waitUntil(() => got.some((e) => e.message?.body === 'before'), 'the first message');
  const cursor = bob.cursor;
  await daemon.stop('SIGKILL');
  await waitUntil(() => got.some((e) => e.type === 'error'), 'a network error');
  await daemon.start();
  await alice.send('after');  // re-joins by itself (not_joined after the restart)
  await waitUntil(() => got.some((e) => e.message?.body === 'after'), 'the message after the restart', 15000);
  assert.ok(got.filter((e) => e.type === 'message').map((e) => e.message.body).join() === 'before,after');
  assert.notEqual(bob.cursor, cursor);
  bob.stop();
  await loop;
});
