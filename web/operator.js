// The operator view at /operator: the sects, one room's stats and online users, and the admin
// calls (mute, kick, VIP, reload). Needs an admin token, or a user id in development mode.
// Every API error is shown with the daemon's own error.message.
import { ChatroomClient } from './chatroomd.js';

const kRefreshMs = 2000;

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const hash = new URLSearchParams(location.hash.slice(1));

$('admin-token').value = hash.get('token') ?? '';
$('admin-user').value = params.get('user') ?? 'operator';
$('room').value = params.get('room') ?? 'lobby';

let client = null;
let timer = null;
let refreshFailed = false;

function connect() {
  const token = $('admin-token').value.trim();
  const room = $('room').value.trim() || 'lobby';
  client = new ChatroomClient({
    room,
    token: token || undefined,
    userId: token ? undefined : $('admin-user').value.trim() || 'operator',
  });
  $('room-title').textContent = room;
  clearInterval(timer);
  refresh();
  timer = setInterval(refresh, kRefreshMs);
}

function showError(e) {
  const el = $('error');
  el.textContent = e ? `${e.code ?? 'error'}: ${e.message}` : '';
  el.hidden = !e;
}

function done(text) {
  $('done').textContent = text;
}

async function refresh() {
  if (!client) return;
  const c = client;
  const results = await Promise.allSettled([c.sects(), c.stats(), c.onlineUsers({ limit: 200 })]);
  if (c !== client) return;
  // A failed refresh is shown; a successful one clears only a refresh's error, not an action's.
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    showError(failed.reason);
    refreshFailed = true;
  } else if (refreshFailed) {
    showError(null);
    refreshFailed = false;
  }
  if (results[0].status === 'fulfilled') showSects(results[0].value);
  if (results[1].status === 'fulfilled') showStats(results[1].value);
  else $('stats').replaceChildren();
  if (results[2].status === 'fulfilled') showUsers(results[2].value);
  $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = String(text);
  return td;
}

function showSects(body) {
  const rows = (body.sects ?? []).map((s) => {
    const tr = document.createElement('tr');
    const ranges = (s.ranges ?? []).map((r) => `${r.start}–${r.end}`).join(', ');
    tr.append(cell(s.name), cell(s.vip ? 'yes' : 'no'), cell(s.threads ?? 0), cell(ranges),
              cell(s.rooms ?? '0'), cell(s.held_polls ?? '0'), cell(s.online ?? '0'),
              cell(Number(s.loop_lag_ms ?? 0).toFixed(2)));
    return tr;
  });
  $('sects').tBodies[0].replaceChildren(...rows);
}

function showStats(stats) {
  const keys = ['online', 'peak_online', 'uv_hour', 'uv_day', 'messages', 'priority_messages',
                'vip', 'sect'];
  const items = keys.map((k) => {
    const div = document.createElement('div');
    div.dataset.key = k;
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    const v = stats[k];
    dd.textContent = k === 'vip' ? (v ? 'yes' : 'no') : String(v ?? '0');
    div.append(dt, dd);
    return div;
  });
  $('stats').replaceChildren(...items);
}

function showUsers(online) {
  $('online-count').textContent = online.count;
  $('users').replaceChildren(...online.users.map((u) => {
    const li = document.createElement('li');
    li.textContent = u;
    return li;
  }));
}

/** Runs one admin call, reports it, and refreshes the view. */
async function act(label, call) {
  if (!client) connect();
  try {
    await call();
    showError(null);
    refreshFailed = false;
    done(`${label}: done`);
  } catch (e) {
    done('');
    showError(e);
    refreshFailed = false;
  }
  refresh();
}

function target() {
  return [$('target-user').value.trim(), Number($('seconds').value || 0)];
}

$('auth').addEventListener('submit', (e) => {
  e.preventDefault();
  connect();
});
$('mute').addEventListener('click', () => {
  const [user, seconds] = target();
  act(`mute ${user} for ${seconds} s`, () => client.mute(user, seconds));
});
$('kick').addEventListener('click', () => {
  const [user, seconds] = target();
  act(`kick ${user} for ${seconds} s`, () => client.kick(user, seconds));
});
$('vip-on').addEventListener('click', () => act('VIP on', () => client.setVip(true)));
$('vip-off').addEventListener('click', () => act('VIP off', () => client.setVip(false)));
$('reload').addEventListener('click', () => act('reload', () => client.reload()));

connect();
