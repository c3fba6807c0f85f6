// Headless Chromium for the end-to-end tests, launched the same way by every suite: Debian's
// `/usr/bin/chromium` (CHROMIUM overrides it) through playwright-core, and fresh browser
// profiles with the suites' step timeout.

import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
/** Longest a suite's set-up (servers, deployments, the browser) may take. */
export const STARTUP_TIMEOUT_MS = 60_000;
/** Longest one browser step (a navigation, a click's effect) may take. */
export const STEP_TIMEOUT_MS = 15_000;
/** Longest one test may take. */
export const TEST_TIMEOUT_MS = 90_000;

/** Starts headless Chromium. */
export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: STARTUP_TIMEOUT_MS,
  });
}

/** A fresh browser profile (no cookies, no storage) with the step timeout. */
export async function newContext(browser) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  return context;
}
