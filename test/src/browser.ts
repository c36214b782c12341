import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Debian's chromium package; CI installs it (see `.ci/run`). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a headless run in a container: no sandbox (root), no GPU, and no calls home (the tests are offline). */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/**
 * Whether the browser tests can run: chromium must be installed. On a developer machine without it they are skipped
 * with this message; in CI (`ci` true) a missing browser is an error, so the UI is never silently untested.
 */
export function browserSupport(ci: boolean): { skip: boolean; reason: string } {
  if (existsSync(CHROMIUM_PATH)) return { skip: false, reason: '' };
  const reason = `${CHROMIUM_PATH} not found (apt-get install chromium): browser tests skipped`;
  if (ci) throw new Error(`${CHROMIUM_PATH} is required in CI`);
  return { skip: true, reason };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, headless: true });
}

/**
 * The surface's doc folder for screenshots, from `test/src` and `test/dist/src` alike: `soc-*` shots belong to the
 * cloud's dashboard doc (`cloud/docs/screenshots/`), the rest to the gateway panel's (`gateway/docs/screenshots/`).
 */
export function screenshotDir(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package-lock.json')) && dirname(dir) !== dir) dir = dirname(dir);
  const out = join(dir, name.startsWith('soc-') ? 'cloud' : 'gateway', 'docs', 'screenshots');
  mkdirSync(out, { recursive: true });
  return out;
}

/** A full-page PNG named `<name>.png` in its surface's `docs/screenshots/`; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(screenshotDir(name), `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Layout checks a person would make on a screenshot, run in the page: no element wider than the viewport causing a
 * horizontal scroll of the whole page, no text cut by `overflow: hidden` in table cells and headings, and no raw JSON
 * (`{"…":`) shown as text. Returns the problems found (empty when the page is clean).
 */
export async function layoutProblems(page: Page): Promise<string[]> {
  return (await page.evaluate(LAYOUT_CHECK)) as string[];
}

/** Runs in the page (plain JavaScript: the test workspace compiles without DOM types). */
const LAYOUT_CHECK = `(() => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1) problems.push('page scrolls sideways: ' + doc.scrollWidth + ' > ' + doc.clientWidth);
  for (const e of document.querySelectorAll('h1, h2, th, td, .badge, button, .stat')) {
    const style = getComputedStyle(e);
    if (style.overflow === 'hidden' && e.scrollWidth > e.clientWidth + 1) problems.push('text cut in <' + e.tagName + '>: ' + (e.textContent || '').slice(0, 40));
  }
  if (window.innerWidth >= 1000) {
    // On a desktop-wide window a card's content must fit it: a card that has to scroll (or spills) sideways hides
    // part of a table from the reader and from the screenshot (a long unbreakable id, say).
    for (const card of document.querySelectorAll('.card')) {
      if (card.scrollWidth > card.clientWidth + 1) {
        const title = card.querySelector('h2, h3');
        problems.push('card content wider than the card' + (title ? ' (' + (title.textContent || '').slice(0, 40) + ')' : '') + ': ' + card.scrollWidth + ' > ' + card.clientWidth);
      }
    }
  }
  const main = document.querySelector('main');
  const text = main ? main.innerText : '';
  if (/\\{\\s*"[^"]+"\\s*:/.test(text)) problems.push('raw JSON shown as text');
  const boxes = Array.from(document.querySelectorAll('.card, .stat')).map((e) => e.getBoundingClientRect());
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      if (a.width === 0 || b.width === 0) continue;
      const overlap = a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
      const inside = (x, y) => x.left >= y.left && x.right <= y.right && x.top >= y.top && x.bottom <= y.bottom;
      if (overlap && !inside(a, b) && !inside(b, a)) problems.push('cards overlap (#' + i + ' and #' + j + ')');
    }
  }
  return problems;
})()`;
