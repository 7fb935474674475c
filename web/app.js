// The chat page at / (API.md "GET /"): one room, its messages in the role="log" list, a
// Message input. Everything network goes through chatroomd.js; message text only ever
// reaches the page as textContent, never as HTML.
import { ChatroomClient } from './chatroomd.js';

const kMaxShown = 2000;   // messages kept in the page; older ones are dropped from the top
const kGapPage = 100;     // history page size when filling a gap
const kGapMax = 1000;     // messages one click on a gap loads at most
const kOlderPage = 50;    // history page size for "Load older messages"
const kPollLimit = 500;   // a poll's limit: a burst this big arrives whole, without a gap

const params = new URLSearchParams(location.search);
const hash = new URLSearchParams(location.hash.slice(1));
const room = params.get('room') || 'lobby';
const token = hash.get('token');
const userId = params.get('user') || guestId();

const $ = (id) => document.getElementById(id);
const log = $('log');
const scroller = $('scroller');
const pinned = $('pinned');
const input = $('message');
const olderButton = $('older');

const client = new ChatroomClient({
  room, token: token || undefined, userId, limit: kPollLimit, maxBackoffMs: 10000,
});
/** seq (string) -> the <li> showing it */
const shown = new Map();

$('room-name').textContent = room;
document.title = `${room} · chatroomd`;
$('user').textContent = token ? '' : userId;

// --- rendering -----------------------------------------------------------------------------

function render(m) {
  const li = document.createElement('li');
  li.className = 'msg';
  li.dataset.seq = m.seq;
  if (m.priority) {
    li.classList.add('priority');
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = 'Priority';
    li.append(badge);
  }
  const sender = document.createElement('span');
  sender.className = 'sender';
  sender.textContent = m.sender;
  const body = document.createElement('span');
  body.className = 'body';
  const type = m.type || 'text';
  body.textContent = type === 'text' ? m.body ?? '' : `[${type}] ${m.body ?? ''}`;
  li.append(sender, body);
  if (m.ts_ms) li.title = new Date(Number(m.ts_ms)).toLocaleString();
  return li;
}

function nearBottom() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
}

/** Puts a message in the log in seq order, once. */
function show(m) {
  if (m.type === 'retract') return retract(m.body);
  if (shown.has(m.seq)) return;
  const stick = nearBottom();
  const li = render(m);
  shown.set(m.seq, li);
  const seq = BigInt(m.seq);
  let before = null;
  for (let el = log.lastElementChild; el; el = el.previousElementSibling) {
    if (!el.dataset.seq) continue;
    if (BigInt(el.dataset.seq) < seq) break;
    before = el;
  }
  // After every shown message with a smaller seq: a gap marker stays above the messages that
  // came after it, and what its button loads lands below it, in order.
  if (before) log.insertBefore(li, before);
  else log.append(li);
  if (m.priority) pin(m);
  trim();
  if (stick) scroller.scrollTop = scroller.scrollHeight;
}

/** The newest priority messages also stay pinned above the log. */
function pin(m) {
  const li = render(m);
  li.dataset.seq = m.seq;
  pinned.prepend(li);
  while (pinned.children.length > 3) pinned.lastElementChild.remove();
  pinned.hidden = false;
}

function retract(seq) {
  shown.get(seq)?.remove();
  shown.delete(seq);
  for (const el of pinned.querySelectorAll(`[data-seq="${CSS.escape(seq)}"]`)) el.remove();
  pinned.hidden = pinned.children.length === 0;
}

function trim() {
  while (shown.size > kMaxShown) {
    const first = log.querySelector('li[data-seq]');
    if (!first) break;
    shown.delete(first.dataset.seq);
    first.remove();
  }
}

function firstShownSeq() {
  return log.querySelector('li[data-seq]')?.dataset.seq ?? null;
}

function showError(text) {
  const el = $('error');
  el.textContent = text;
  el.hidden = !text;
}

function setStatus(text) {
  $('status').textContent = text;
}

// --- gap and history -------------------------------------------------------------------------

function showGap({ afterSeq, beforeSeq }) {
  const li = document.createElement('li');
  li.className = 'gap';
  if (afterSeq !== null) li.dataset.after = afterSeq;
  if (beforeSeq !== null) li.dataset.before = beforeSeq;
  const text = document.createElement('span');
  text.textContent = 'some messages were skipped';
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Load skipped messages';
  li.append(text, button);
  log.append(li);
  button.addEventListener('click', () => fillGap(li, button));
}

/** Loads the messages a gap marker stands for from history, newest page first. */
async function fillGap(li, button) {
  button.disabled = true;
  const after = li.dataset.after === undefined ? null : BigInt(li.dataset.after);
  let before = li.dataset.before;
  let loaded = 0;
  try {
    while (loaded < kGapMax) {
      const page = await client.history({ before, limit: kGapPage });
      const wanted = page.messages.filter((m) => after === null || BigInt(m.seq) > after);
      wanted.forEach(show);
      loaded += wanted.length;
      if (after === null || page.messages.length === 0 || page.next_before === undefined ||
          BigInt(page.messages[0].seq) <= after) {
        li.remove();
        return;
      }
      before = page.next_before;
    }
    // More than kGapMax: the next click loads the next ones.
    li.dataset.before = before;
    button.disabled = false;
  } catch (e) {
    button.disabled = false;
    showError(`${e.code}: ${e.message}`);
  }
}

olderButton.addEventListener('click', async () => {
  olderButton.disabled = true;
  try {
    const first = firstShownSeq();
    const page = await client.history({ before: first ?? undefined, limit: kOlderPage });
    const keep = scroller.scrollHeight - scroller.scrollTop;
    page.messages.forEach(show);
    scroller.scrollTop = scroller.scrollHeight - keep;
    if (page.next_before === undefined) {
      olderButton.textContent = 'Start of the room';
      return;
    }
    olderButton.disabled = false;
  } catch (e) {
    olderButton.disabled = false;
    showError(`${e.code}: ${e.message}`);
  }
});

// --- the client's events -----------------------------------------------------------------------

client.addEventListener('message', (e) => show(e.detail.message));
client.addEventListener('priority', (e) => show(e.detail.message));
client.addEventListener('retract', (e) => retract(e.detail.seq));
client.addEventListener('gap', (e) => showGap(e.detail));
client.addEventListener('online', (e) => {
  $('online').textContent = String(e.detail.count);
});
client.addEventListener('state', (e) => {
  const { state } = e.detail;
  setStatus(state === 'retrying' ? 'reconnecting…' : state);
  if (state === 'live') showError('');
});
client.addEventListener('error', (e) => {
  const { error, retryInMs } = e.detail;
  showError(`${error.code}: ${error.message} (retrying in ${Math.ceil(retryInMs / 1000)} s)`);
});
client.addEventListener('stopped', (e) => {
  const { reason, error } = e.detail;
  if (reason === 'unauthorized') {
    showError('This daemon needs a token: paste one below.');
    $('token-form').hidden = false;
    $('token').focus();
  } else if (reason === 'kicked') {
    showError(`You were removed from this room: ${error.message}`);
  } else if (error) {
    showError(`${error.code}: ${error.message}`);
  }
});

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const value = $('token').value.trim();
  if (!value) return;
  client.token = value;
  // Kept in the fragment (never sent to a server), so a reload stays signed in.
  history.replaceState(null, '', `${location.pathname}${location.search}#token=${encodeURIComponent(value)}`);
  $('token-form').hidden = true;
  $('user').textContent = '';
  showError('');
  client.start();
});

$('send').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = input.value;
  if (!text.trim()) return;
  input.value = '';
  try {
    await client.send(text);
    showError('');
  } catch (err) {
    input.value = input.value || text;  // give the text back so it can be sent again
    showError(`${err.code}: ${err.message}`);
  }
});

function guestId() {
  let id = null;
  try {
    id = localStorage.getItem('chatroomd.guest');
  } catch {
    // storage can be off; a fresh guest each load is fine
  }
  if (!id) {
    id = `guest-${Math.random().toString(36).slice(2, 8)}`;
    try {
      localStorage.setItem('chatroomd.guest', id);
    } catch {
      // ignored, as above
    }
  }
  return id;
}

client.start();
