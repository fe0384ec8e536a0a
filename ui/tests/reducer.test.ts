import { describe, expect, it } from 'vitest';
import {
  activeTurnId,
  addLocalUserMessage,
  addSentMessage,
  applyEvent,
  emptyData,
  loadHistory,
  loadSnapshot,
  type AppData,
} from '../src/lib/reducer';
import type { Approval, EventKind, Item, RuntimeEvent, Session, Settings, Status } from '../src/lib/types';

let seq = 0;
/** A runtime event with the next `seq`. */
function ev(kind: EventKind): RuntimeEvent {
  seq += 1;
  return { seq, at: 1_000 + seq, ...kind };
}

function session(id: string, extra: Partial<Session> = {}): Session {
  return {
    id,
    name: null,
    preview: '',
    pinned: false,
    archived: false,
    createdAt: 1,
    lastActivityAt: 1,
    model: null,
    effort: null,
    cwd: null,
    activeTurnId: null,
    tokenUsage: null,
    ...extra,
  };
}

function status(): Status {
  return {
    version: '0.1.0',
    codex: { state: 'ready', detail: null, version: '0.1', pinnedVersion: '0.1', restarts: 0, pid: 1, bin: 'codex' },
    activeTurns: [],
    pendingApprovals: 0,
    approvalPolicy: 'guarded',
    model: 'mock-model',
    dataDir: '/tmp',
    warnings: [],
    account: null,
  };
}

function approval(id: string, extra: Partial<Approval> = {}): Approval {
  return {
    id,
    sessionId: 's1',
    turnId: 't1',
    itemId: 'cmd1',
    kind: 'command',
    title: 'Run touch approved.txt',
    detail: 'touch approved.txt',
    status: 'pending',
    createdAt: 5,
    answeredAt: null,
    answeredBy: null,
    dangers: [],
    ...extra,
  };
}

/** An `item.started` or `item.completed` event in s1's turn t1. */
function itemEvent(type: 'item.started' | 'item.completed', item: Item): RuntimeEvent {
  return ev({ type, sessionId: 's1', turnId: 't1', item });
}

function agentMessage(id: string, text: string, phase: string | null = null): Item {
  return { type: 'agentMessage', id, text, phase };
}

function loaded(): AppData {
  const d = emptyData();
  loadSnapshot(d, { status: status(), sessions: [session('s1'), session('s2')], approvals: [] });
  loadHistory(d, 's1', []);
  d.selectedId = 's1';
  return d;
}

describe('applyEvent', () => {
  it('streams agent message deltas and replaces them with the completed item', () => {
    const d = loaded();
    applyEvent(d, ev({ type: 'turn.started', sessionId: 's1', turnId: 't1' }));
    expect(activeTurnId(d, 's1')).toBe('t1');
    applyEvent(d, itemEvent('item.started', agentMessage('m1', '')));
    applyEvent(d, ev({ type: 'item.delta', sessionId: 's1', turnId: 't1', itemId: 'm1', kind: 'agentMessage', delta: 'Hello ' }));
    applyEvent(d, ev({ type: 'item.delta', sessionId: 's1', turnId: 't1', itemId: 'm1', kind: 'agentMessage', delta: 'there' }));
    expect(d.turns.s1[0].items[0]).toMatchObject({ type: 'agentMessage', text: 'Hello there' });

    applyEvent(d, itemEvent('item.completed', agentMessage('m1', 'Hello there!')));
    expect(d.turns.s1[0].items).toEqual([{ ...agentMessage('m1', 'Hello there!'), _done: true }]);

    applyEvent(d, ev({ type: 'turn.completed', sessionId: 's1', turnId: 't1', status: 'completed', error: null }));
    expect(d.turns.s1[0].status).toBe('completed');
    expect(activeTurnId(d, 's1')).toBeNull();
  });

  it('creates a typed item for a delta that arrives before item.started', () => {
    const d = loaded();
    applyEvent(d, ev({ type: 'item.delta', sessionId: 's1', turnId: 't1', itemId: 'm1', kind: 'agentMessage', delta: 'Hi' }));
    expect(d.turns.s1[0]).toMatchObject({ id: 't1', status: 'inProgress' });
    expect(d.turns.s1[0].items).toEqual([agentMessage('m1', 'Hi')]);
    // A late item.started keeps the streamed text and takes Codex's fields.
    applyEvent(d, itemEvent('item.started', agentMessage('m1', '', 'final_answer')));
    expect(d.turns.s1[0].items).toEqual([agentMessage('m1', 'Hi', 'final_answer')]);
  });

  it('streams command output into a placeholder, kept when its item starts', () => {
    const d = loaded();
    applyEvent(d, ev({ type: 'item.delta', sessionId: 's1', turnId: 't1', itemId: 'c1', kind: 'commandOutput', delta: 'a\n' }));
    expect(d.turns.s1[0].items).toEqual([
      {
        type: 'commandExecution',
        id: 'c1',
        command: '',
        cwd: '',
        status: 'inProgress',
        aggregatedOutput: 'a\n',
        exitCode: null,
        durationMs: null,
      },
    ]);
    const started: Item = {
      type: 'commandExecution',
      id: 'c1',
      command: 'ls',
      cwd: '/w',
      status: 'inProgress',
      aggregatedOutput: null,
      exitCode: null,
      durationMs: null,
    };
    applyEvent(d, itemEvent('item.started', started));
    expect(d.turns.s1[0].items).toEqual([{ ...started, aggregatedOutput: 'a\n' }]);
  });

  it('passes other and contextCompaction items through unchanged', () => {
    const d = loaded();
    const plan: Item = { type: 'other', id: 'p1', codexType: 'plan', data: { text: '1. Look\n2. Fix' } };
    const compaction: Item = { type: 'contextCompaction', id: 'k1' };
    applyEvent(d, itemEvent('item.started', plan));
    applyEvent(d, itemEvent('item.started', compaction));
    expect(d.turns.s1[0].items).toEqual([plan, compaction]);
    applyEvent(d, itemEvent('item.completed', plan));
    applyEvent(d, itemEvent('item.completed', compaction));
    expect(d.turns.s1[0].items).toEqual([
      { ...plan, _done: true },
      { ...compaction, _done: true },
    ]);
  });

  it('never lets a late item.started undo a completed item', () => {
    const d = loaded();
    applyEvent(d, itemEvent('item.completed', agentMessage('m1', 'Done.')));
    applyEvent(d, itemEvent('item.started', agentMessage('m1', '')));
    expect(d.turns.s1[0].items).toEqual([{ ...agentMessage('m1', 'Done.'), _done: true }]);
  });

  it('drops a delta whose kind does not fit its item', () => {
    const d = loaded();
    applyEvent(d, itemEvent('item.started', agentMessage('m1', 'Hi')));
    applyEvent(d, ev({ type: 'item.delta', sessionId: 's1', turnId: 't1', itemId: 'm1', kind: 'commandOutput', delta: 'x' }));
    expect(d.turns.s1[0].items).toEqual([agentMessage('m1', 'Hi')]);
  });

  it('appends command output and reasoning deltas', () => {
    const d = loaded();
    applyEvent(d, itemEvent('item.started', {
      type: 'commandExecution',
      id: 'c1',
      command: 'ls',
      cwd: '/w',
      status: 'inProgress',
      aggregatedOutput: null,
      exitCode: null,
      durationMs: null,
    }));
    applyEvent(d, ev({ type: 'item.delta', sessionId: 's1', turnId: 't1', itemId: 'c1', kind: 'commandOutput', delta: 'a\n' }));
    applyEvent(d, ev({ type: 'item.delta', sessionId: 's1', turnId: 't1', itemId: 'c1', kind: 'commandOutput', delta: 'b\n' }));
    expect(d.turns.s1[0].items[0]).toMatchObject({ type: 'commandExecution', aggregatedOutput: 'a\nb\n' });
    applyEvent(d, ev({ type: 'item.delta', sessionId: 's1', turnId: 't1', itemId: 'r1', kind: 'reasoning', delta: '**Plan**' }));
    applyEvent(d, ev({ type: 'item.delta', sessionId: 's1', turnId: 't1', itemId: 'r1', kind: 'reasoning', delta: ' it' }));
    expect(d.turns.s1[0].items[1]).toEqual({ type: 'reasoning', id: 'r1', summary: ['**Plan** it'], content: [] });
    // File change output, streamed before its item, is kept when it starts.
    applyEvent(d, ev({ type: 'item.delta', sessionId: 's1', turnId: 't1', itemId: 'f1', kind: 'fileChange', delta: 'patched' }));
    const change: Item = {
      type: 'fileChange',
      id: 'f1',
      changes: [{ path: 'b.rs', kind: { type: 'update', movePath: 'c.rs' }, diff: '-a\n+b' }],
      status: 'inProgress',
    };
    applyEvent(d, itemEvent('item.started', change));
    expect(d.turns.s1[0].items[2]).toEqual({ ...change, output: 'patched' });
  });

  it('ignores item events of sessions whose history is not loaded', () => {
    const d = loaded();
    applyEvent(d, ev({ type: 'item.delta', sessionId: 's2', turnId: 'tx', itemId: 'm', kind: 'agentMessage', delta: 'x' }));
    expect(d.turns.s2).toBeUndefined();
  });

  it('marks other sessions unread and tracks failures', () => {
    const d = loaded();
    applyEvent(d, ev({ type: 'turn.completed', sessionId: 's2', turnId: 't9', status: 'failed', error: 'model said 500' }));
    expect(d.unread.s2).toBe(true);
    expect(d.unread.s1).toBeUndefined();
    applyEvent(d, ev({ type: 'turn.completed', sessionId: 's1', turnId: 't1', status: 'interrupted', error: 'stopped' }));
    expect(d.turns.s1[0]).toMatchObject({ status: 'interrupted', error: 'stopped' });
  });

  it('records approvals requested and resolved', () => {
    const d = loaded();
    applyEvent(d, ev({ type: 'approval.requested', approval: approval('a1') }));
    expect(d.approvals.a1.status).toBe('pending');
    applyEvent(d, ev({ type: 'approval.resolved', approval: approval('a1', { status: 'accept', answeredAt: 9 }) }));
    expect(d.approvals.a1.status).toBe('accept');
  });

  it('tracks stalls until the turn speaks again', () => {
    const d = loaded();
    applyEvent(d, ev({ type: 'turn.started', sessionId: 's1', turnId: 't1' }));
    applyEvent(d, ev({ type: 'turn.stalled', sessionId: 's1', turnId: 't1', silentForMs: 45_000 }));
    expect(d.stalled.t1).toBe(45_000);
    applyEvent(d, ev({ type: 'item.delta', sessionId: 's1', turnId: 't1', itemId: 'm', kind: 'agentMessage', delta: 'x' }));
    expect(d.stalled.t1).toBeUndefined();
  });

  it('updates codex state, sessions and tokens', () => {
    const d = loaded();
    applyEvent(d, ev({ type: 'codex.state', state: 'restarting', detail: 'crashed' }));
    expect(d.codexState).toBe('restarting');
    expect(d.status?.codex.detail).toBe('crashed');
    applyEvent(d, ev({ type: 'session.updated', session: session('s3', { name: 'New', pinned: true }) }));
    expect(d.sessions[0].id).toBe('s3');
    const usage = { totalTokens: 12_300, inputTokens: 10_000, outputTokens: 2_300, lastTurnTokens: 12_300, contextWindow: 258_000 };
    applyEvent(d, ev({ type: 'tokens.updated', sessionId: 's1', usage }));
    expect(d.tokens.s1).toEqual(usage);
    expect(d.sessions.find((s) => s.id === 's1')?.tokenUsage).toEqual(usage);
  });

  it('moves a replaced session to its new id, keeping it open', () => {
    const d = loaded();
    d.selectedId = 's1';
    d.turns.s1 = [];
    d.unread.s1 = true;
    applyEvent(d, ev({ type: 'session.replaced', previousId: 's1', session: session('s9') }));
    expect(d.sessions.some((s) => s.id === 's1')).toBe(false);
    expect(d.sessions.some((s) => s.id === 's9')).toBe(true);
    expect(d.selectedId).toBe('s9');
    expect(d.turns.s9).toEqual([]);
    expect('s1' in d.turns).toBe(false);
    expect(d.unread.s9).toBe(true);
  });

  it('asks for a reload on lagged and reset', () => {
    const d = loaded();
    expect(applyEvent(d, { type: 'lagged', skipped: 12, at: 1 })).toEqual([{ type: 'reload', reason: 'lagged' }]);
    expect(applyEvent(d, { type: 'reset', at: 2 })).toEqual([{ type: 'reload', reason: 'reset' }]);
    expect(applyEvent(d, ev({ type: 'warning', sessionId: null, message: 'x' }))).toEqual([]);
    expect(d.warnings.at(-1)).toMatchObject({ sessionId: null, message: 'x' });
  });

  it('keeps answered approvals across a snapshot reload', () => {
    const d = loaded();
    applyEvent(d, ev({ type: 'approval.resolved', approval: approval('old', { status: 'decline' }) }));
    applyEvent(d, ev({ type: 'approval.requested', approval: approval('gone') }));
    loadSnapshot(d, { status: status(), sessions: [session('s1')], approvals: [approval('new')] });
    expect(Object.keys(d.approvals).sort()).toEqual(['new', 'old']);
  });

  it('drops the local echo of a sent message when Codex reports it', () => {
    const d = loaded();
    addLocalUserMessage(d, 's1', 't1', 'do it');
    expect(d.turns.s1[0].items).toEqual([
      { type: 'userMessage', id: expect.stringMatching(/^local-/), content: [{ type: 'text', text: 'do it' }], local: true },
    ]);
    // Another message's report leaves the echo alone.
    applyEvent(d, itemEvent('item.started', { type: 'userMessage', id: 'u0', content: [{ type: 'text', text: 'earlier' }] }));
    expect(d.turns.s1[0].items).toHaveLength(2);
    // Codex's userMessage with the same text (an image beside it has no text).
    const echo: Item = {
      type: 'userMessage',
      id: 'u1',
      content: [{ type: 'text', text: 'do ' }, { type: 'image', url: null }, { type: 'text', text: 'it' }],
    };
    applyEvent(d, itemEvent('item.completed', echo));
    expect(d.turns.s1[0].items.map((i) => i.id)).toEqual(['u0', 'u1']);
    // An echo that arrived first means no local copy is added.
    addLocalUserMessage(d, 's1', 't1', 'do it');
    expect(d.turns.s1[0].items.map((i) => i.id)).toEqual(['u0', 'u1']);
  });

  it('marks a sent turn running only while it is: a turn that failed before the answer to the send stays ended', () => {
    const d = loaded();
    addSentMessage(d, 's1', 't1', 'first');
    expect(activeTurnId(d, 's1')).toBe('t1');
    applyEvent(d, ev({ type: 'turn.completed', sessionId: 's1', turnId: 't1', status: 'completed', error: null }));
    expect(activeTurnId(d, 's1')).toBeNull();
    // A 400 from the model ends the turn before the POST's answer arrives.
    applyEvent(d, ev({ type: 'turn.started', sessionId: 's1', turnId: 't2' }));
    applyEvent(d, ev({ type: 'turn.completed', sessionId: 's1', turnId: 't2', status: 'failed', error: 'HTTP 400' }));
    addSentMessage(d, 's1', 't2', 'refused');
    expect(activeTurnId(d, 's1')).toBeNull();
  });

  it('reloads when sequence numbers go backwards (server restarted)', () => {
    const d = loaded();
    const warning = (seq: number, message: string): RuntimeEvent => ({ seq, at: seq, type: 'warning', sessionId: null, message });
    applyEvent(d, warning(50, 'a'));
    expect(applyEvent(d, warning(51, 'b'))).toEqual([]);
    // The stream's control events carry no seq and leave it alone.
    applyEvent(d, { type: 'lagged', skipped: 1, at: 52 });
    expect(d.lastSeq).toBe(51);
    expect(applyEvent(d, warning(3, 'c'))).toEqual([{ type: 'reload', reason: 'reset' }]);
    expect(d.lastSeq).toBe(3);
  });

  it('keeps the settings live from settings.changed', () => {
    const d = loaded();
    expect(d.settings).toBeNull();
    const settings: Settings = {
      codex: { bin: null, approvalPolicy: 'guarded', model: null, effort: null, cwd: null },
      provider: null,
      providerKeySet: false,
      relayTokenSet: false,
      notifications: {
        dnd: true,
        dndAllowsApprovals: true,
        approvals: true,
        turnFinished: true,
        codexRestarts: true,
        errors: true,
        peerMessages: true,
        mutedAgents: [],
        mutedChannels: [],
        wakeups: true,
      },
      memory: { context: true, contextTokens: 2_000, autoArchive: false, embeddingsUrl: null, embeddingsModel: null },
      autostart: { supported: true, enabled: false, error: null },
      secrets: { backend: 'keyring', warning: null },
      paths: { data: '/d', config: '/d/config.toml', logs: null, codexHome: null },
      restartRequired: false,
    };
    expect(applyEvent(d, ev({ type: 'settings.changed', settings }))).toEqual([]);
    expect(d.settings?.notifications.dnd).toBe(true);
  });
  it('keeps the account live from account.updated and from a snapshot', () => {
    const d = loaded();
    expect(d.account).toBeNull();
    const signedOut = { account: null, requiresOpenaiAuth: true, sharedWithCodexCli: false };
    applyEvent(d, ev({ type: 'account.updated', account: signedOut }));
    expect(d.account).toEqual(signedOut);
    expect(d.status?.account).toEqual(signedOut);
    // A status that has not read it yet (null) keeps what is known.
    loadSnapshot(d, { status: status(), sessions: [session('s1')], approvals: [] });
    expect(d.account).toEqual(signedOut);
    const signedIn = { account: { type: 'apiKey' as const }, requiresOpenaiAuth: true, sharedWithCodexCli: false };
    loadSnapshot(d, { status: { ...status(), account: signedIn }, sessions: [session('s1')], approvals: [] });
    expect(d.account).toEqual(signedIn);
    // account.login is the sign-in flow's, not the data's.
    expect(applyEvent(d, ev({ type: 'account.login', loginId: null, success: false, error: 'x' }))).toEqual([]);
    expect(d.account).toEqual(signedIn);
  });

  it('shows a turn problem until the turn makes progress or ends', () => {
    const d = loaded();
    const unreachable = { kind: 'unreachable' as const, message: 'Reconnecting... 2/5', willRetry: true, httpStatus: null };
    applyEvent(d, ev({ type: 'turn.started', sessionId: 's1', turnId: 't1' }));
    applyEvent(d, itemEvent('item.completed', { type: 'userMessage', id: 'u1', content: [{ type: 'text', text: 'hi' }] }));
    applyEvent(d, ev({ type: 'turn.problem', sessionId: 's1', turnId: 't1', problem: unreachable }));
    expect(d.problems.s1).toMatchObject({ turnId: 't1', problem: unreachable });
    // The person's own message (a steer) is not the model's progress.
    applyEvent(d, itemEvent('item.started', { type: 'userMessage', id: 'u2', content: [{ type: 'text', text: 'more' }] }));
    expect(d.problems.s1).toBeDefined();
    applyEvent(d, ev({ type: 'item.delta', sessionId: 's1', turnId: 't1', itemId: 'm1', kind: 'agentMessage', delta: 'Hi' }));
    expect(d.problems.s1).toBeUndefined();

    // A problem without a turn id is the running turn's; the turn's end clears it.
    applyEvent(d, ev({ type: 'turn.problem', sessionId: 's1', turnId: null, problem: { ...unreachable, kind: 'rateLimited' } }));
    expect(d.problems.s1?.turnId).toBeNull();
    applyEvent(d, ev({ type: 'turn.completed', sessionId: 's1', turnId: 't1', status: 'failed', error: 'x' }));
    expect(d.problems.s1).toBeUndefined();

    // A late report about an ended turn is not shown.
    applyEvent(d, ev({ type: 'turn.problem', sessionId: 's1', turnId: 't1', problem: unreachable }));
    expect(d.problems.s1).toBeUndefined();
  });

  it('forgets the problems of turns that ended while events were missed', () => {
    const d = loaded();
    const problem = { kind: 'httpError' as const, message: 'boom', willRetry: true, httpStatus: 500 };
    applyEvent(d, ev({ type: 'turn.problem', sessionId: 's2', turnId: 't9', problem }));
    expect(d.problems.s2).toBeDefined();
    loadSnapshot(d, { status: status(), sessions: [session('s1'), session('s2')], approvals: [] });
    expect(d.problems.s2).toBeUndefined();
  });
});
