// The Sign in with Apple fixture as a process (`target/debug/apple-fixture`, from
// tests/src/bin/apple_fixture.rs): one app with a fresh `.p8`-style key, any redirect URI
// allowed, its issuer at http://localhost:PORT (another site than the token handler at
// http://127.0.0.1) while it listens on 127.0.0.1 only. Its output goes to
// tests/artifacts/<name>.log; it exits when stopped or when node exits (its stdin closes).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

import { ARTIFACTS, BIN, stopChild, trackChild } from './deployments.mjs';

const STARTUP_TIMEOUT_MS = 30_000;

/** The first line `child` prints on stdout, or an error if it exits or stays silent. */
function firstLine(child, logFile) {
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    const timer = setTimeout(
      () => reject(new Error(`apple-fixture said nothing within ${STARTUP_TIMEOUT_MS} ms; see ${logFile}`)),
      STARTUP_TIMEOUT_MS,
    );
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(line);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`apple-fixture exited (${code ?? signal}); see ${logFile}`));
    });
  });
}

async function getJson(url) {
  const r = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

/**
 * Starts the fixture. Resolves to what it printed (`issuer`, `client_id`, `team_id`, `key_id`,
 * `private_key_pem`, `sub`, `control_url`) plus `stats()` (its counters and the names of the
 * last authorization response's fields), `issued()` (the token values it issued and the last
 * client secret it saw) and `stop()`.
 */
export async function startAppleFixture(name = 'apple-fixture') {
  const program = path.join(BIN, 'apple-fixture');
  if (!fs.existsSync(program)) {
    throw new Error(`${program} is missing: run \`cargo build --workspace --bins\` (tests/e2e/run does)`);
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const logFile = path.join(ARTIFACTS, `${name}.log`);
  const log = fs.openSync(logFile, 'w');
  const child = spawn(program, [], {
    env: { PATH: process.env.PATH, RUST_LOG: process.env.RUST_LOG ?? 'info' },
    stdio: ['pipe', 'pipe', log],
  });
  fs.closeSync(log);
  trackChild(child);
  let info;
  try {
    info = JSON.parse(await firstLine(child, logFile));
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  return {
    ...info,
    logFile,
    stats: () => getJson(`${info.control_url}/stats`),
    issued: () => getJson(`${info.control_url}/issued`),
    async stop() {
      child.stdin.end();
      await stopChild(child);
    },
  };
}
