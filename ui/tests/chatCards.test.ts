import { describe, expect, it } from 'vitest';
import { render } from 'svelte/server';
import TurnErrorCard from '../src/components/TurnErrorCard.svelte';
import AccountLine from '../src/components/account/AccountLine.svelte';
import FirstRun from '../src/components/account/FirstRun.svelte';
import { data } from '../src/lib/state.svelte';
import type { Turn } from '../src/lib/types';

function failedTurn(text: string, error: string): Turn {
  return {
    id: 't1',
    status: 'failed',
    error,
    items: [{ type: 'userMessage', id: 'u1', content: [{ type: 'text', text }] }],
  };
}

describe('the error card', () => {
  it('shows the message of a JSON error body, the status, the raw text folded away, and Retry', () => {
    const turn = failedTurn('do it', 'unexpected status 400 Bad Request: {"error":{"message":"Bad model","type":"invalid_request_error"}}');
    const { body } = render(TurnErrorCard, { props: { turn, sessionId: 's1', running: false } });
    expect(body).toContain('data-testid="error-message">Bad model</p>');
    expect(body).toContain('HTTP 400');
    expect(body).toMatch(/<details[^>]*>[\s\S]*invalid_request_error[\s\S]*<\/details>/);
    expect(body).toContain('data-testid="retry-turn"');
  });

  it('offers no Retry for a peer delivery (the person would vouch for peers’ words)', () => {
    const turn = failedTurn('[peer messages: header]\n[channel: ops] bot: hi\n  (message 1)', 'boom');
    const { body } = render(TurnErrorCard, { props: { turn, sessionId: 's1', running: false } });
    expect(body).not.toContain('data-testid="retry-turn"');
  });
});

describe('the account line and the first-run screen', () => {
  it('say whom Codex is signed in as, or offer to sign in', () => {
    data.account = { account: { type: 'chatgpt', email: 'ada@example.com', planType: 'plus' }, requiresOpenaiAuth: true, sharedWithCodexCli: false };
    expect(render(AccountLine, { props: { testid: 'footer-account' } }).body).toContain('Signed in as ada@example.com (plus)');

    data.account = { account: null, requiresOpenaiAuth: true, sharedWithCodexCli: true };
    const line = render(AccountLine, { props: { testid: 'footer-account' } }).body;
    expect(line).toContain('Not signed in');
    expect(line).toContain('>Sign in</button>');

    const firstRun = render(FirstRun, { props: {} }).body;
    expect(firstRun).toContain('data-testid="first-run"');
    expect(firstRun).toContain('data-testid="sign-in-api-key"');
    expect(firstRun).toContain('data-testid="sign-in-provider"');
    expect(firstRun).toContain('type="password"');
    expect(firstRun).toContain('signs in the Codex CLI too');
    data.account = null;
  });
});
