// node oidc-provider with the suite's two test clients, and the token handler deployed twice
// against it (`local` and `lambda`, on free loopback ports): the set-up the OIDC suites share.

import fs from 'node:fs';
import path from 'node:path';

import { ARTIFACTS, clientsFor, freePort, startDeployment } from './deployments.mjs';
import { startProvider } from './provider.mjs';

/** Signs `subject` in on oidc-provider's own login and consent pages, which `page` is on. */
export async function signInAtProvider(page, issuer, subject) {
  await page.waitForURL(`${issuer}/interaction/**`);
  await page.fill('input[name=login]', subject);
  await page.fill('input[name=password]', 'any password');
  await page.click('button[type=submit]');
  await page.waitForURL(`${issuer}/interaction/**`);
  await page.locator('button[type=submit]', { hasText: 'Continue' }).click();
}

/**
 * Starts the provider and both deployments. `options(kind, provider)` adds deployment options
 * (APIs, a log name, …). If any deployment fails to start, what started is stopped again.
 *
 * @returns {{provider, clients: Object<string, object>, deployments: Object<string, object>,
 *   stop: (artifact: string) => Promise<void>}} `clients` by provider name (`basic`, `post`),
 *   `deployments` by kind; `stop` writes the provider's requests, errors and back-channel
 *   logout deliveries to tests/artifacts/<artifact>.
 */
export async function startOidcRig(options = () => ({})) {
  const ports = { local: await freePort(), lambda: await freePort() };
  const list = clientsFor(Object.fromEntries(
    Object.entries(ports).map(([kind, port]) => [kind, `http://127.0.0.1:${port}`]),
  ));
  const provider = await startProvider({
    clients: list.map(({ provider: _, backchannel: __, ...c }) => c),
  });
  const rig = {
    provider,
    clients: Object.fromEntries(list.map((c) => [c.provider, c])),
    deployments: {},
    async stop(artifact) {
      await Promise.all(Object.values(rig.deployments).map((d) => d.stop()));
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      fs.writeFileSync(
        path.join(ARTIFACTS, artifact),
        JSON.stringify({
          requests: provider.requests,
          errors: provider.errors,
          backchannel: provider.backchannel,
        }, null, 2),
      );
      await provider.close();
    },
  };
  const started = await Promise.allSettled(
    Object.entries(ports).map(([kind, port]) =>
      startDeployment(kind, { port, issuer: provider.issuer, clients: list, ...options(kind, provider) })),
  );
  for (const s of started) if (s.status === 'fulfilled') rig.deployments[s.value.kind] = s.value;
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await rig.stop('provider-requests-failed-start.json');
    throw failed.reason;
  }
  return rig;
}
