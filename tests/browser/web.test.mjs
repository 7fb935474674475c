// The web client in a real browser against the real daemon (API.md "GET /", issue 13): pages at
// / and /operator in headless chromium, messages sent by other pages and through the API.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ChatroomClient } from '../../web/chatroomd.js';
import { Daemon, waitUntil } from '../web/daemon.mjs';
import { launch, open, realProblems, shownMessages } from './browser.mjs';

let daemon;
let browser;
const pages = [];

before(async () => {
  daemon = await new Daemon().start();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await daemon?.close();
});

/** Opens the chat page for `user` in `room` and waits until it is live. */
async function chat(room, user, viewport) {
  const page = await open(browser, `${daemon.baseUrl}/?room=${room}&user=${user}`, viewport);
  pages.push(page);
  await page.waitForFunction(() => document.getElementById('status').textContent === 'live');
  return page;
}

/** A client of the API in this process, in development mode (so an admin). */
function api(room, user = 'backend') {
  return new ChatroomClient({ room, userId: user, baseUrl: daemon.baseUrl });
}

async function say(page, text) {
  const input = page.getByLabel('Message', { exact: true });
  await input.fill(text);
  await input.press('Enter');
}

const expectShown = (page, line, timeout = 10000) =>
  waitUntil(async () => (await shownMessages(page)).includes(line), `"${line}" on the page`, timeout);

function clean(page) {
  assert.deepEqual(realProblems(page), [], 'no script errors or CSP violations');
}

test('two pages in one room exchange messages, as text', async () => {
  const alice = await chat('tabs', 'alice');
  const bob = await chat('tabs', 'bob');
  await say(alice, 'hi bob');
  await expectShown(bob, 'alice: hi bob');
  await say(bob, 'hi alice <b>not bold</b>');
  await expectShown(alice, 'bob: hi alice <b>not bold</b>');
  assert.equal(await alice.locator('#log b').count(), 0, 'message text is never HTML');
  assert.equal(await alice.getByRole('log').count(), 1);
  assert.equal(await alice.getByLabel('Message', { exact: true }).inputValue(), '', 'sent and cleared');
  await waitUntil(async () => Number(await bob.textContent('#online')) === 2, 'online count 2');
  clean(alice);
  clean(bob);
});

test('a priority message from the API shows first and distinctly', async () => {
  const backend = api('stage');
  await backend.join({ backlog: 0 });
  for (let i = 0; i < 3; i++) await backend.send(`chat ${i}`);
  const viewer = await chat('stage', 'viewer', { width: 375, height: 667 });
  await backend.send('big gift from carol', { priority: true, type: 'gift' });
  await backend.send('after the gift');
  await expectShown(viewer, 'backend: after the gift');
  const pinned = viewer.locator('#pinned li').first();
  assert.equal(await pinned.locator('.body').textContent(), '[gift] big gift from carol');
  const inLog = viewer.locator('#log li.priority');
  assert.equal(await inLog.count(), 1);
  assert.equal(await viewer.locator('#log li:not(.priority) .badge').count(), 0);
  // Pinned above the log, and drawn differently from a normal message.
  const pinBox = await pinned.boundingBox();
  const logBox = await viewer.locator('#log').boundingBox();
  assert.ok(pinBox.y < logBox.y, 'the priority message is above the log');
  const bg = (sel) => viewer.$eval(sel, (el) => getComputedStyle(el).backgroundColor);
  assert.notEqual(await bg('#log li.priority'), await bg('#log li:not(.priority)'));
  // Readable on a phone: nothing wider than the screen.
  const width = await viewer.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `page is ${width}px wide on a 375px screen`);
  clean(viewer);
});

test('a burst of 200 messages all shows, in order', async () => {
  const page = await chat('burst', 'watcher');
  const backend = api('burst');
  await backend.join({ backlog: 0 });
  const sends = [];
  for (let i = 0; i < 200; i++) sends.push(backend.send(`burst ${i}`));
  await Promise.all(sends);
  await waitUntil(async () => (await shownMessages(page)).length === 200, '200 messages', 20000);
  const shown = await shownMessages(page);
  const seqs = await page.$$eval('#log li[data-seq]', (els) => els.map((el) => Number(el.dataset.seq)));
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in seq order');
  assert.equal(new Set(shown).size, 200);
  assert.equal(await page.locator('#log .gap').count(), 0);
  clean(page);
});

test('a reload resumes: the room shows again and new messages arrive', async () => {
  const page = await chat('reload', 'dora');
  await say(page, 'before reload');
  await expectShown(page, 'dora: before reload');
  await page.reload();
  await page.waitForFunction(() => document.getElementById('status').textContent === 'live');
  await expectShown(page, 'dora: before reload');
  await api('reload').join({ backlog: 0 });
  await api('reload').send('after reload');
  await expectShown(page, 'backend: after reload');
  await say(page, 'me again');
  await expectShown(page, 'dora: me again');
  clean(page);
});

test('a restarted daemon is resumed from', async () => {
  const page = await chat('restart', 'erin');
  await say(page, 'one');
  await expectShown(page, 'erin: one');
  await daemon.stop('SIGKILL');
  await page.waitForFunction(() => document.getElementById('status').textContent !== 'live');
  await daemon.start();
  const backend = api('restart');
  await backend.join({ backlog: 0 });
  await backend.send('two');
  await expectShown(page, 'backend: two', 20000);
  await say(page, 'three');
  await expectShown(page, 'erin: three');
  assert.deepEqual(await shownMessages(page), ['erin: one', 'backend: two', 'erin: three']);
  clean(page);
});

test('the operator page mutes a user, whose send then fails with muted', async () => {
  const bob = await chat('moderated', 'bob');
  const op = await open(browser, `${daemon.baseUrl}/operator?room=moderated&user=boss`);
  await waitUntil(async () => (await op.locator('#users li').allTextContents()).includes('bob'),
    'bob in the operator\'s online list');
  await op.waitForFunction(() => document.querySelectorAll('#sects tbody tr').length >= 1);
  await op.waitForFunction(() =>
    document.querySelector('#stats [data-key="online"] dd')?.textContent === '1');
  await op.getByLabel('User', { exact: true }).fill('bob');
  await op.getByLabel('Seconds').fill('300');
  await op.getByRole('button', { name: 'Mute' }).click();
  await op.waitForFunction(() => document.getElementById('done').textContent.includes('done'));
  await say(bob, 'can I talk?');
  await bob.waitForFunction(() => document.getElementById('error').textContent.startsWith('muted'));
  assert.equal(await bob.getByRole('alert').isVisible(), true);
  assert.equal((await shownMessages(bob)).length, 0);
  // An API error reaches the operator with the daemon's message.
  await op.getByLabel('User', { exact: true }).fill('not a valid id!');
  await op.getByRole('button', { name: 'Kick' }).click();
  await op.waitForFunction(() => document.getElementById('error').textContent.startsWith('bad_request'));
  await op.getByRole('button', { name: 'VIP on' }).click();
  await op.waitForFunction(() =>
    document.querySelector('#stats [data-key="vip"] dd')?.textContent === 'yes');
  clean(bob);
  assert.deepEqual(realProblems(op).filter((p) => !/status of 4\d\d/.test(p)), []);
});

test('a gap shows, and its button loads the skipped messages from history', async () => {
  const page = await chat('gappy', 'fay');
  // Every poll after the one that brings `first` is held in the browser while 520 messages
  // arrive: more than its poll limit (500), so the daemon answers the newest 500 and a gap.
  // The page is reloaded under the route, so every poll it makes passes the handler; once its
  // poll is held at the daemon, the hold is set and `first` sent: the poll that brings it is
  // that one, and the page's next poll is the held one. (Set after `first` shows, the page may
  // already have polled again, unheld.)
  const isPoll = (url) => url.pathname.endsWith('/poll');
  let polls = 0;
  let holding = false;
  let release;
  const released = new Promise((resolve) => {
    release = resolve;
  });
  await page.route(isPoll, async (route) => {
    polls += 1;
    if (holding) await released;
    await route.continue();
  });
  await page.reload();
  await page.waitForFunction(() => document.getElementById('status').textContent === 'live');
  await waitUntil(async () => polls > 0, 'a poll through the route');
  const backend = api('gappy');
  await backend.join({ backlog: 0 });
  holding = true;
  await backend.send('first');
  await expectShown(page, 'backend: first');
  for (let i = 0; i < 520; i += 40) {
    await Promise.all(Array.from({ length: 40 }, (_, k) => i + k < 520 && backend.send(`m ${i + k}`)));
  }
  release();
  await page.waitForSelector('#log .gap', { timeout: 20000 });
  assert.equal(await page.locator('#log .gap span').textContent(), 'some messages were skipped');
  await waitUntil(async () => (await shownMessages(page)).includes('backend: m 519'), 'the newest');
  assert.ok((await shownMessages(page)).length < 521, 'some were skipped');
  await page.getByRole('button', { name: 'Load skipped messages' }).click();
  await waitUntil(async () => (await shownMessages(page)).length === 521, 'all 521', 20000);
  assert.equal(await page.locator('#log .gap').count(), 0);
  const bodies = (await shownMessages(page)).map((s) => s.slice('backend: '.length));
  assert.deepEqual(bodies, ['first', ...Array.from({ length: 520 }, (_, i) => `m ${i}`)]);
  clean(page);
});

test('a retraction removes the message; older messages load from history', async () => {
  const backend = api('scroll');
  await backend.join({ backlog: 0 });
  const seqs = [];
  for (let i = 0; i < 30; i++) seqs.push((await backend.send(`old ${i}`)).seq);
  const page = await chat('scroll', 'gus');
  await expectShown(page, 'backend: old 29');
  assert.equal((await shownMessages(page)).length, 20, 'the join backlog');
  await page.getByRole('button', { name: 'Load older messages' }).click();
  await waitUntil(async () => (await shownMessages(page)).length === 30, 'all 30');
  await waitUntil(async () => (await page.textContent('#older')) === 'Start of the room', 'the start');
  await backend.retract(seqs[29]);
  await waitUntil(async () => !(await shownMessages(page)).includes('backend: old 29'), 'old 29 gone');
  assert.equal((await shownMessages(page)).length, 29);
  clean(page);
});

test('with JWT auth the page asks for a token, then chats as its subject', async () => {
  const jwtDaemon = await new Daemon({ jwt: true }).start();
  try {
    const page = await open(browser, `${jwtDaemon.baseUrl}/?room=secure`);
    await page.waitForSelector('#token-form:not([hidden])');
    assert.match(await page.textContent('#error'), /token/);
    await page.getByLabel('Token').fill(jwtDaemon.token('alice'));
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.waitForFunction(() => document.getElementById('status').textContent === 'live');
    await say(page, 'signed in');
    await expectShown(page, 'alice: signed in');
    // The token went to the fragment: a reload stays signed in.
    assert.match(page.url(), /#token=/);
    await page.reload();
    await page.waitForFunction(() => document.getElementById('status').textContent === 'live');
    await expectShown(page, 'alice: signed in');
    // A bad token is refused: the page asks again.
    const bad = await open(browser, `${jwtDaemon.baseUrl}/?room=secure#token=not.a.token`);
    await bad.waitForSelector('#token-form:not([hidden])');
    // The operator view with a token that is not an admin's shows the daemon's error.
    const op = await open(browser, `${jwtDaemon.baseUrl}/operator?room=secure#token=${jwtDaemon.token('alice')}`);
    await op.waitForFunction(() => document.getElementById('error').textContent.startsWith('forbidden'));
    const admin = await open(browser, `${jwtDaemon.baseUrl}/operator?room=secure#token=${jwtDaemon.token('boss', { admin: true })}`);
    await admin.waitForFunction(() => document.querySelectorAll('#sects tbody tr').length >= 1);
    assert.equal(await admin.locator('#error').isVisible(), false);
  } finally {
    await jwtDaemon.close();
  }
});
