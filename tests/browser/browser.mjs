// The browser for the web client's tests: Debian's /usr/bin/chromium, headless, driven by
// playwright-core (which downloads no browser). Each page gets a fresh context (its own
// storage), and any script error or Content-Security-Policy violation fails the test.
import fs from 'node:fs';

let playwright;
try {
  playwright = await import('playwright-core');
} catch (e) {
  throw new Error(`playwright-core is missing: run scripts/install-deps.sh (npm ci in tests/browser): ${e.message}`);
}

export const kChromium = process.env.CHATROOMD_CHROMIUM || '/usr/bin/chromium';

export async function launch() {
  if (!fs.existsSync(kChromium)) {
    throw new Error(`no chromium at ${kChromium}: run scripts/install-deps.sh (apt-get install chromium)`);
  }
  return playwright.chromium.launch({
    executablePath: kChromium,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * Opens `url` in a fresh context. `page.problems` collects uncaught errors, console errors
 * and CSP violations; `assertClean(page)` fails on any that are not network errors the test
 * caused on purpose.
 */
export async function open(browser, url, viewport = { width: 1000, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  return page;
}

/** Problems that are neither failed requests (a stopped daemon, 4xx answers) nor expected. */
export function realProblems(page) {
  return page.problems.filter((p) => !/Failed to load resource|net::ERR_/.test(p));
}

/** The messages the chat page shows, as "sender: body" in page order. */
export function shownMessages(page) {
  return page.$$eval('#log li[data-seq]', (els) =>
    els.map((el) => `${el.querySelector('.sender').textContent}: ${el.querySelector('.body').textContent}`));
}
