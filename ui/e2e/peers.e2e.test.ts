// The Inbox and Peers pages against a real `perch serve` with its embedded
// relay (`--relay-listen`, see harness.ts). The test plays an outside agent:
// it speaks the Agent Relay HTTP API to the relay directly (no token on the
// loopback embedded relay). Nothing here starts a Codex turn: messages to
// the person do not go to Perch's agent. See suite.ts for the setup.

import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { RESULTS_DIR, waitFor } from './harness';
import { setupSuite, skipReason } from './suite';

const missing = skipReason();

interface PeerStatusJson {
  enabled: boolean;
  relayUrl: string | null;
  connected: boolean;
  agentId: string;
  personId: string;
  unread: number;
}

interface RelayMessage {
  id: number;
  from: string;
  to: string;
  channel: string | null;
  subject: string | null;
  body: string;
  replyTo: number | null;
  threadId: number;
}

describe.skipIf(missing !== null)('Peers and Inbox', () => {
  const suite = setupSuite('peers');

  const { apiJson, eventually } = suite;

  /** The Agent Relay API of the embedded relay, as an outside agent calls it. */
  async function relayJson<T>(relayUrl: string, method: string, route: string, body?: unknown): Promise<T> {
    const res = await fetch(relayUrl + route, {
      method,
      headers: body !== undefined ? { 'Content-Type': 'application/json' } : {},
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    if (!res.ok) throw new Error(`relay ${method} ${route}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** The server works asynchronously: wait (bounded) until `check` holds. */
  /** Messages that reach `agent` on the relay (a bare array; tolerate a wrapper). */
  async function relayMessagesFor(relayUrl: string, agent: string): Promise<RelayMessage[]> {
    const res = await relayJson<RelayMessage[] | { messages: RelayMessage[] }>(
      relayUrl,
      'GET',
      `/api/messages?for=${encodeURIComponent(agent)}`,
    );
    return Array.isArray(res) ? res : res.messages;
  }

  it('shows an outside agent’s message live as plain text, replies as the person, mutes the agent and lists it', async () => {
    const status = await eventually('the peer network connecting', async () => {
      const s = await apiJson<PeerStatusJson>('GET', '/api/peer');
      return s.relayUrl && s.connected ? s : undefined;
    });
    const relayUrl = status.relayUrl!.replace(/\/+$/, '');
    const { personId, agentId } = status;
    expect(personId).toBeTruthy();
    expect(personId).not.toBe(agentId);

    const page = await suite.newPage();
    await suite.signIn(page, '#/inbox');
    await page.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
    expect(await page.title()).toBe('Perch — Inbox');
    const nav = page.getByRole('navigation', { name: 'Main' });
    await page.locator('[data-testid="nav-inbox"][data-unread="0"]').waitFor();
    const before = await apiJson<{ data: unknown[] }>('GET', '/api/peer/messages');
    if (before.data.length === 0) {
      // Nothing yet: the page says how agents reach the person.
      const empty = page.getByTestId('inbox-empty');
      await empty.waitFor();
      await expect(empty.getByTestId('person-id').textContent()).resolves.toBe(personId);
      await expect(empty.getByTestId('relay-url').textContent()).resolves.toBe(status.relayUrl);
    }

    // An outside agent registers and writes to the person.
    await relayJson(relayUrl, 'POST', '/api/agents', {
      id: 'outside-bot',
      label: 'Outside',
      tags: ['ops'],
      capabilities: ['chat'],
      instanceId: 'i1',
    });
    const sent = await relayJson<RelayMessage>(relayUrl, 'POST', '/api/messages', {
      from: 'outside-bot',
      to: personId,
      subject: 'Deploy',
      body: '<b>hi</b> deploy done',
      channel: 'ops',
    });
    expect(typeof sent.id).toBe('number');

    // Live, without a reload: the unread badge and the thread.
    await page.locator('[data-testid="nav-inbox"][data-unread="1"]').waitFor();
    await nav.getByTestId('nav-inbox-unread').filter({ hasText: '1' }).waitFor();
    const link = page.getByTestId('peer-thread-link').filter({ hasText: 'Deploy' });
    await link.waitFor();
    await expect(link.textContent()).resolves.toContain('outside-bot');
    expect(await link.getAttribute('data-thread-id')).toBe(String(sent.threadId));
    expect(await link.getAttribute('data-unread')).toBe('1');

    // Opening it shows the body as literal text, and reads it.
    await link.click();
    await page.waitForURL((u) => u.hash === `#/inbox/${sent.threadId}`);
    const thread = page.getByTestId('peer-thread');
    await thread.waitFor();
    const body = thread.locator(`[data-testid="peer-message"][data-message-id="${sent.id}"] [data-testid="peer-message-body"]`);
    await expect(body.textContent()).resolves.toBe('<b>hi</b> deploy done');
    expect(await thread.locator('b').count()).toBe(0);
    await page.locator('[data-testid="nav-inbox"][data-unread="0"]').waitFor();
    expect(await nav.getByTestId('nav-inbox-unread').count()).toBe(0);
    await eventually('the message read on the server', async () =>
      (await apiJson<PeerStatusJson>('GET', '/api/peer')).unread === 0 ? true : undefined,
    );

    // The person replies in the thread: it reaches the agent as a reply.
    const reply = 'On it, thanks.';
    await thread.getByRole('textbox', { name: /^Reply to/ }).fill(reply);
    await thread.getByRole('button', { name: 'Send reply' }).click();
    await thread.getByTestId('peer-message').filter({ hasText: reply }).waitFor();
    const answer = await eventually('the reply on the relay', async () =>
      (await relayMessagesFor(relayUrl, 'outside-bot')).find((m) => m.body === reply),
    );
    expect(answer.replyTo).toBe(sent.id);
    expect(answer.from).toBe(personId);
    expect(answer.to).toBe('outside-bot');
    expect(answer.channel).toBe('ops');
    expect(answer.threadId).toBe(sent.threadId);
    // outside-bot publishes no key: the reply went in the clear, signed;
    // its own message shows unverified.
    const mine = thread.getByTestId('peer-message').filter({ hasText: reply });
    await mine.getByTestId('signed').waitFor();
    expect(await mine.getByTestId('encrypted').count()).toBe(0);
    const theirs = thread.locator(`[data-testid="peer-message"][data-message-id="${sent.id}"]`);
    expect(await theirs.getByTestId('unverified').count()).toBe(1);
    expect(await theirs.getByTestId('signed').count()).toBe(0);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'inbox.png') });

    // Mute the agent from the thread: it lands in the settings.
    await thread.getByRole('button', { name: 'Mute outside-bot', exact: true }).click();
    await thread.getByRole('button', { name: 'Unmute outside-bot', exact: true }).waitFor();
    await eventually('outside-bot in notifications.mutedAgents', async () => {
      const s = await apiJson<{ notifications: { mutedAgents?: string[] } }>('GET', '/api/settings');
      return s.notifications.mutedAgents?.includes('outside-bot') ? true : undefined;
    });

    // The Peers page lists the agent with its label and tag.
    await nav.getByRole('link', { name: 'Peers' }).click();
    await page.getByRole('heading', { name: 'Peers', level: 1 }).waitFor();
    expect(await page.title()).toBe('Perch — Peers');
    await expect(page.getByTestId('peer-agent-id').textContent()).resolves.toBe(agentId);
    const row = page.locator('[data-testid="peer-agent"][data-agent-id="outside-bot"]');
    await row.waitFor();
    const rowText = await row.textContent();
    expect(rowText).toContain('Outside');
    expect(rowText).toContain('ops');
    expect(rowText).toContain('chat');
    await page.screenshot({ path: path.join(RESULTS_DIR, 'peers.png') });

    // "Message" opens the Inbox's compose form addressed to the agent.
    await row.getByRole('button', { name: 'Message outside-bot' }).click();
    await page.waitForURL((u) => u.hash === '#/inbox');
    const compose = page.getByTestId('peer-compose');
    await compose.waitFor();
    expect(await compose.getByLabel('To', { exact: true }).inputValue()).toBe('outside-bot');
    const note = 'A new thread from the person.';
    await compose.getByLabel('Subject', { exact: true }).fill('Hello');
    await compose.getByLabel('Message', { exact: true }).fill(note);
    await compose.getByRole('button', { name: 'Send', exact: true }).click();
    await page.getByTestId('peer-thread').getByTestId('peer-message').filter({ hasText: note }).waitFor();
    const fresh = await eventually('the new message on the relay', async () =>
      (await relayMessagesFor(relayUrl, 'outside-bot')).find((m) => m.body === note),
    );
    expect(fresh.from).toBe(personId);
    expect(fresh.replyTo).toBeNull();
    expect(fresh.subject).toBe('Hello');
    expect(page.url()).toContain(`#/inbox/${fresh.threadId}`);
  });
  it('shows peer messages delivered to Perch’s agent as cards, not as the framing text', async () => {
    const status = await eventually('the peer network connecting', async () => {
      const s = await apiJson<PeerStatusJson>('GET', '/api/peer');
      return s.relayUrl && s.connected ? s : undefined;
    });
    const relayUrl = status.relayUrl!.replace(/\/+$/, '');

    // An outside agent (registered without a key: unauthenticated) writes to Perch's agent.
    await relayJson(relayUrl, 'POST', '/api/agents', {
      id: 'build-bot',
      label: 'Build',
      tags: ['ci'],
      capabilities: ['chat'],
      instanceId: 'i2',
    });
    const body = '<i>CI</i> is green\nall 42 checks passed';
    const sent = await relayJson<RelayMessage & { authenticated: boolean }>(relayUrl, 'POST', '/api/messages', {
      from: 'build-bot',
      to: status.agentId,
      subject: 'CI status',
      body,
      channel: 'ci',
    });
    // Delivered as a turn of the peer session (the scripted model answers "OK").
    const sessionId = await eventually('the peer session', async () =>
      (await apiJson<{ sessionId?: string | null }>('GET', '/api/peer')).sessionId ?? undefined,
    );

    const page = await suite.newPage();
    await suite.signIn(page, `#/chat/${sessionId}`);
    const card = page.locator(`[data-testid="peer-card"][data-message-id="${sent.id}"]`);
    await card.waitFor();
    await expect(card.getByTestId('peer-card-sender').textContent()).resolves.toBe('build-bot');
    await expect(card.getByTestId('peer-card-channel').textContent()).resolves.toBe('#ci');
    await expect(card.getByTestId('peer-card-subject').textContent()).resolves.toBe('CI status');
    // Plain text, never HTML.
    await expect(card.getByTestId('peer-card-body').textContent()).resolves.toBe(body);
    expect(await card.locator('i').count()).toBe(0);
    expect(await card.getByTestId('peer-card-unauthenticated').count()).toBe(sent.authenticated ? 0 : 1);
    // No user bubble with the framing.
    expect(await page.getByTestId('user-message').filter({ hasText: '[peer messages:' }).count()).toBe(0);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'peer-card.png') });
  });
  /**
   * A device entry as a Perch publishes it on its card (`meta.e2e`), made
   * with node's own Ed25519 and X25519: the statement crates/e2e signs.
   */
  function deviceEntry(owner: string, device: string, created: number) {
    const raw = (key: { export(o: { format: 'jwk' }): { x?: string } }) => key.export({ format: 'jwk' }).x!;
    const signing = generateKeyPairSync('ed25519');
    const kex = generateKeyPairSync('x25519');
    const signKey = raw(signing.publicKey);
    const kexKey = raw(kex.publicKey);
    const statement = `perch-e2e device v1\n${owner}\n${device}\n${signKey}\n${kexKey}\n${created}`;
    const sig = sign(null, Buffer.from(statement), signing.privateKey).toString('base64url');
    const digest = createHash('sha256')
      .update(Buffer.from(signKey, 'base64url'))
      .update(Buffer.from(kexKey, 'base64url'))
      .digest('hex')
      .slice(0, 40);
    const fingerprint = digest.match(/.{4}/g)!.join(' ');
    return { entry: { device, sign: signKey, kex: kexKey, created, sig }, fingerprint };
  }

  it('lists end-to-end keys, pins a peer’s and warns when the pinned key changes', async () => {
    const status = await eventually('the peer network connecting', async () => {
      const s = await apiJson<PeerStatusJson>('GET', '/api/peer');
      return s.relayUrl && s.connected ? s : undefined;
    });
    const relayUrl = status.relayUrl!.replace(/\/+$/, '');
    const first = deviceEntry('keyed-bot', 'd1', 1);
    const register = (entry: object) =>
      relayJson(relayUrl, 'POST', '/api/agents', {
        id: 'keyed-bot',
        instanceId: 'k1',
        meta: { e2e: { v: 1, devices: [entry] } },
      });
    await register(first.entry);

    const page = await suite.newPage();
    await suite.signIn(page, '#/peers');
    const panel = page.getByTestId('peer-keys');
    const mine = panel.locator(`[data-testid="peer-keyset"][data-agent-id="${status.agentId}"]`);
    await mine.getByText('this device').waitFor();
    const bot = panel.locator('[data-testid="peer-keyset"][data-agent-id="keyed-bot"]');
    await bot.getByText(first.fingerprint).waitFor();
    await expect(bot.getAttribute('data-pinned')).resolves.toBe('false');
    await bot.getByRole('button', { name: 'Pin', exact: true }).click();
    await panel.locator('[data-testid="peer-keyset"][data-agent-id="keyed-bot"][data-pinned="true"]').waitFor();
    await expect(bot.getByTestId('key-device').getAttribute('data-standing')).resolves.toBe('pinned');

    // The same device now shows another key, not announced by the pinned one.
    const swapped = deviceEntry('keyed-bot', 'd1', 2);
    await register(swapped.entry);
    await page.reload();
    const alert = page.getByTestId('key-changed-alert');
    await alert.waitFor();
    await expect(alert.textContent()).resolves.toContain('keyed-bot');
    await expect(bot.getByTestId('key-device').getAttribute('data-standing')).resolves.toBe('changed');
    await expect(bot.getByText(swapped.fingerprint).count()).resolves.toBe(1);
    // Sending to it is refused, with what to do.
    const refused = await suite.perch.api('POST', '/api/peer/messages', { to: 'keyed-bot', body: 'hello?' });
    expect(refused.status).toBe(409);
    const error = ((await refused.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('key_changed');
    expect(error.message).toContain('pin it again on the Peers page');
    await panel.screenshot({ path: path.join(RESULTS_DIR, 'peer-keys.png') });
    // Pinned again after comparing: the warning goes.
    await bot.getByRole('button', { name: 'Pin these keys' }).click();
    await alert.waitFor({ state: 'detached' });
  });
  it('lists the person’s computers, links a second one with a code and unlinks it', async () => {
    const status = await eventually('the peer network connecting', async () => {
      const s = await apiJson<PeerStatusJson>('GET', '/api/peer');
      return s.relayUrl && s.connected ? s : undefined;
    });
    const relayUrl = status.relayUrl!.replace(/\/+$/, '');
    const { personId } = status;

    const page = await suite.newPage();
    await suite.signIn(page, '#/peers');
    const panel = page.getByRole('region', { name: 'Your computers' });
    const devices = panel.getByTestId('person-device');
    const mine = panel.locator('[data-testid="person-device"][data-this-device="true"]');
    await mine.getByText('this computer').waitFor();
    expect(await devices.count()).toBe(1);
    await expect(mine.getByTestId('device-fingerprint').textContent()).resolves.toMatch(/^[0-9a-f]{4}( [0-9a-f]{4}){9}$/);

    // A one-time code for another computer, shown with what to do there.
    await panel.getByRole('button', { name: 'Link another computer' }).click();
    const codeEl = panel.getByTestId('link-code');
    await codeEl.waitFor();
    const code = (await codeEl.textContent())!.trim();
    expect(code).toMatch(/^[0-9a-f]{4}(-[0-9a-f]{4}){4}$/);
    await expect(panel.getByTestId('link-box').textContent()).resolves.toContain(`perch peers join ${code}`);

    // The second computer registers the person's id with the code: a key of its own.
    const joined = await fetch(relayUrl + '/api/agents', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: personId, instanceId: 'second-1', device: 'second-computer', linkCode: code }),
    });
    expect(joined.status).toBe(200);
    const key = ((await joined.json()) as { key?: string }).key;
    expect(typeof key).toBe('string');

    await panel.getByRole('button', { name: 'Refresh the list' }).click();
    const second = panel.locator('[data-testid="person-device"][data-device="second-computer"]');
    await second.waitFor();
    expect(await devices.count()).toBe(2);
    await expect(second.textContent()).resolves.toContain('No end-to-end key on the card yet');
    await panel.screenshot({ path: path.join(RESULTS_DIR, 'person-devices.png') });

    // Unlink it, after confirming: its key is taken away.
    await second.getByRole('button', { name: 'Unlink second-computer' }).click();
    await second.getByTestId('unlink-device-confirm').getByRole('button', { name: 'Unlink', exact: true }).click();
    await second.waitFor({ state: 'detached' });
    expect(await devices.count()).toBe(1);
    const heartbeat = await fetch(`${relayUrl}/api/agents/${encodeURIComponent(personId)}/heartbeat`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Agent-Key': key! },
      body: '{}',
    });
    expect(heartbeat.status).toBe(403);

    // This Perch already holds the id: joining with a code is refused, with the server's reason.
    await panel.getByTestId('join-code').fill('0000-0000-0000-0000-0000');
    await panel.getByRole('button', { name: 'Join', exact: true }).click();
    await panel.getByRole('alert').filter({ hasText: 'already holds' }).waitFor();
    expect(await devices.count()).toBe(1);
  });
});
