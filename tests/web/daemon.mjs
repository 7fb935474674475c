// Runs the real chatroomd binary for the web client's tests (tests/web, tests/browser): a
// temporary directory with a development-mode config, 127.0.0.1 port 0 (read back from the
// `listening on HOST:PORT` line), and a restart on the same port and data directory.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The binary: $CHATROOMD_BINARY (ctest passes the build's), else build/chatroomd. */
export function binaryPath() {
  const here = path.dirname(new URL(import.meta.url).pathname);
  const bin = process.env.CHATROOMD_BINARY || path.resolve(here, '../../build/chatroomd');
  if (!fs.existsSync(bin)) throw new Error(`no chatroomd binary at ${bin} (set CHATROOMD_BINARY)`);
  return bin;
}

export class Daemon {
  /**
   * @param {{config?: string, jwt?: boolean}} [options] config: extra main-config text
   *     (protobuf text format); jwt: JWT auth with a fresh secret (token() mints tokens)
   */
  constructor(options = {}) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatroomd-web-'));
    this.port = 0;
    this.proc = null;
    this.secretFile = null;
    if (options.jwt) {
      this.secretFile = path.join(this.dir, 'jwt.secret');
      fs.writeFileSync(this.secretFile, crypto.randomBytes(32).toString('base64'));
    }
    const config = [
      '# Written by tests/web/daemon.mjs.',
      'auth { enabled: false }',
      'log { level: "info" }',
      'sects_file: "sects.textproto"',
      options.config ?? '',
      '',
    ].join('\n');
    fs.writeFileSync(path.join(this.dir, 'chatroomd.textproto'), config);
    fs.writeFileSync(path.join(this.dir, 'sects.textproto'),
      'sects { name: "main" threads: 1 ranges { start: 0 end: 18446744073709551615 } }\n' +
      'sects { name: "vip" vip: true threads: 1 }\n');
  }

  get baseUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts it (on the port it had before, once it had one); resolves once it listens. */
  start() {
    const stderr = fs.openSync(path.join(this.dir, 'stderr.log'), 'a');
    const proc = spawn(binaryPath(), [
      '--config', path.join(this.dir, 'chatroomd.textproto'),
      '--listen', `127.0.0.1:${this.port}`,
      '--data-dir', path.join(this.dir, 'data'),
      ...(this.secretFile ? ['--jwt-secret-file', this.secretFile] : []),
    ], { cwd: this.dir, stdio: ['ignore', 'pipe', stderr] });
    fs.closeSync(stderr);
    this.proc = proc;
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => fail(new Error('chatroomd did not listen within 20 s')), 20000);
      const fail = (e) => {
        clearTimeout(timer);
        reject(new Error(`${e.message}\n${this.stderrText()}`));
      };
      proc.on('exit', (code, signal) => fail(new Error(`chatroomd exited (${code ?? signal})`)));
      proc.stdout.on('data', (chunk) => {
        out += chunk;
        const m = /listening on [^\s]+:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          this.port = Number(m[1]);
          resolve(this);
        }
      });
    });
  }

  /** A token from `chatroomd token` for this daemon's secret (JWT mode). */
  token(user, { admin = false } = {}) {
    const args = ['token', '--user', user, '--jwt-secret-file', this.secretFile];
    if (admin) args.push('--admin');
    return execFileSync(binaryPath(), args, { encoding: 'utf8' }).trim();
  }

  /** Sends `signal` to the process it started and waits for it to exit. */
  async stop(signal = 'SIGTERM') {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(timer);
    this.proc = null;
  }

  /** Stops it (SIGKILL: no clean shutdown) and removes the temporary directory. */
  async close() {
    await this.stop('SIGKILL');
    if (!process.env.CHATROOMD_IT_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  stderrText() {
    try {
      return fs.readFileSync(path.join(this.dir, 'stderr.log'), 'utf8').slice(-4000);
    } catch {
      return '';
    }
  }
}

/** Polls `check` (sync or async) until it is truthy; fails after timeoutMs with `what`. */
export async function waitUntil(check, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
