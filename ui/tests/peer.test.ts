import { describe, expect, it } from 'vitest';
import {
  agentOptions,
  applyPeerEvent,
  channelOptions,
  emptyPeer,
  groupThreads,
  isGroupTarget,
  markReadLocally,
  matchesFilter,
  mergeMessages,
  peerLink,
  presenceTone,
  replyTarget,
  safeHttpUrl,
  snippet,
  sortAgents,
  targetHints,
  threadParties,
  unreadIds,
  withToggled,
} from '../src/lib/peer';
import type { PeerAgent, PeerLink, PeerMessage, PeerStatus, PerchEvent } from '../src/lib/types';

const ME = 'person-1';
const PERCH = 'perch-agent';

function msg(id: number, extra: Partial<PeerMessage> = {}): PeerMessage {
  return {
    id,
    from: 'bob',
    to: ME,
    channel: null,
    subject: null,
    body: `message ${id}`,
    replyTo: null,
    threadId: id,
    claimable: false,
    claimedBy: null,
    claimedAt: null,
    claimExpiresAt: null,
    urgent: false,
    type: null,
    meta: {},
    createdAt: 1_000 + id,
    readBy: [],
    authenticated: true,
    unread: false,
    encrypted: false,
    signed: false,
    withheld: null,
    tampered: false,
    ...extra,
  };
}

function agent(id: string, extra: Partial<PeerAgent> = {}): PeerAgent {
  return {
    id,
    name: null,
    label: null,
    machine: null,
    rig: null,
    tags: [],
    capabilities: [],
    channels: [],
    status: 'online',
    ready: true,
    meta: {},
    instanceId: null,
    epoch: 1,
    authenticated: true,
    registeredAt: 1,
    lastSeen: 1,
    ...extra,
  };
}

function status(extra: Partial<PeerLink> = {}): PeerLink {
  return {
    enabled: true,
    relayUrl: 'http://127.0.0.1:4850',
    embedded: true,
    connected: true,
    agentId: PERCH,
    personId: ME,
    label: null,
    tags: [],
    capabilities: [],
    channels: [],
    sessionId: null,
    unread: 0,
    lastError: null,
    delivery: { queued: 0, state: 'idle', attempt: 0, error: null },
    ...extra,
  };
}

let seq = 0;
function statusEvent(status: PeerStatus): PerchEvent {
  seq += 1;
  return { seq, at: seq, type: 'peer.status', status };
}

function messageEvent(message: PeerMessage): PerchEvent {
  seq += 1;
  return { seq, at: seq, type: 'peer.message', message, toPerson: true, toAgent: false };
}

describe('mergeMessages', () => {
  it('keeps ascending ids without duplicates, the newer copy winning', () => {
    const merged = mergeMessages([msg(3), msg(1)], [msg(2), msg(3, { body: 'edited' })]);
    expect(merged.map((m) => m.id)).toEqual([1, 2, 3]);
    expect(merged[2].body).toBe('edited');
  });
});

describe('matchesFilter', () => {
  it('filters by channel and by an agent on either side', () => {
    const m = msg(1, { from: 'bob', to: ME, channel: 'ops' });
    expect(matchesFilter(m, { channel: '', agent: '' })).toBe(true);
    expect(matchesFilter(m, { channel: 'ops', agent: '' })).toBe(true);
    expect(matchesFilter(m, { channel: 'dev', agent: '' })).toBe(false);
    expect(matchesFilter(m, { channel: '', agent: 'bob' })).toBe(true);
    expect(matchesFilter(m, { channel: '', agent: ME })).toBe(true);
    expect(matchesFilter(m, { channel: 'ops', agent: 'carol' })).toBe(false);
  });
});

describe('applyPeerEvent', () => {
  it('replaces the status on peer.status', () => {
    const d = emptyPeer();
    d.available = false;
    applyPeerEvent(d, statusEvent(status({ unread: 4 })));
    expect(peerLink(d.status)?.unread).toBe(4);
    expect(d.available).toBe(true);
    expect(d.events).toBe(1);
  });

  it('appends a new message to a loaded Inbox; the count comes with peer.status', () => {
    const d = emptyPeer();
    d.status = status({ unread: 0 });
    d.inbox.loaded = true;
    d.inbox.messages = [msg(1)];
    // The server raises the count first, then sends the message.
    applyPeerEvent(d, statusEvent(status({ unread: 1 })));
    const m = msg(2, { unread: true });
    expect(applyPeerEvent(d, messageEvent(m))).toEqual({ newUnread: true });
    expect(d.inbox.messages.map((x) => x.id)).toEqual([1, 2]);
    expect(peerLink(d.status)?.unread).toBe(1);
    // A replay of the same event changes nothing.
    expect(applyPeerEvent(d, messageEvent(m))).toEqual({ newUnread: false });
    expect(peerLink(d.status)?.unread).toBe(1);
    expect(d.inbox.messages).toHaveLength(2);
    expect(d.events).toBe(3);
  });

  it('keeps no list while the Inbox is not loaded', () => {
    const d = emptyPeer();
    d.status = status();
    expect(applyPeerEvent(d, messageEvent(msg(5, { unread: true })))).toEqual({ newUnread: true });
    expect(applyPeerEvent(d, messageEvent(msg(6, { from: ME, to: 'bob' })))).toEqual({ newUnread: false });
    expect(d.inbox.messages).toEqual([]);
  });

  it('keeps the status of a Perch whose peer network is off', () => {
    const d = emptyPeer();
    d.offMessage = 'the peer network is off';
    applyPeerEvent(d, statusEvent({ enabled: false }));
    expect(d.status).toEqual({ enabled: false });
    expect(peerLink(d.status)).toBeNull();
    expect(d.offMessage).toBe('the peer network is off');
    applyPeerEvent(d, statusEvent(status()));
    expect(d.offMessage).toBeNull();
  });

  it('leaves out messages the Inbox filter hides', () => {
    const d = emptyPeer();
    d.inbox.loaded = true;
    d.inbox.filter = { channel: 'ops', agent: '' };
    applyPeerEvent(d, messageEvent(msg(1, { channel: 'dev' })));
    applyPeerEvent(d, messageEvent(msg(2, { channel: 'ops' })));
    expect(d.inbox.messages.map((m) => m.id)).toEqual([2]);
  });

  it('ignores other events and malformed ones', () => {
    const d = emptyPeer();
    expect(applyPeerEvent(d, { type: 'reset', at: 1 })).toEqual({ newUnread: false });
    expect(applyPeerEvent(d, { seq: 1, at: 1, type: 'peer.failed', error: 'codex is down', queued: 1 })).toEqual({ newUnread: false });
    // A message event without its message (not what the server sends).
    const malformed = { seq: 2, at: 2, type: 'peer.message' } as unknown as PerchEvent;
    expect(applyPeerEvent(d, malformed)).toEqual({ newUnread: false });
    expect(d.events).toBe(0);
  });
});

describe('markReadLocally and unreadIds', () => {
  it('clears the unread flag and records the reader', () => {
    const list = [msg(1, { unread: true }), msg(2, { unread: true }), msg(3)];
    expect(unreadIds(list)).toEqual([1, 2]);
    markReadLocally(list, [1], ME);
    expect(unreadIds(list)).toEqual([2]);
    expect(list[0].readBy).toEqual([ME]);
    markReadLocally(list, [1], ME);
    expect(list[0].readBy).toEqual([ME]);
  });
});

describe('threads', () => {
  it('groups by threadId, newest activity first, with unread counts', () => {
    const messages = [
      msg(1, { subject: 'Deploy', channel: 'ops', unread: true, createdAt: 10 }),
      msg(2, { from: 'carol', body: 'hello\nsecond line', createdAt: 20 }),
      msg(3, { from: ME, to: 'bob', threadId: 1, replyTo: 1, body: 'on it', channel: 'ops', createdAt: 30 }),
      msg(4, { threadId: 1, replyTo: 3, unread: true, body: 'thanks', channel: 'ops', createdAt: 40 }),
    ];
    const threads = groupThreads(messages, [ME, PERCH]);
    expect(threads.map((t) => t.id)).toEqual([1, 2]);
    const [deploy, hello] = threads;
    expect(deploy.messages.map((m) => m.id)).toEqual([1, 3, 4]);
    expect(deploy.subject).toBe('Deploy');
    expect(deploy.snippet).toBe('thanks');
    expect(deploy.unread).toBe(2);
    expect(deploy.lastAt).toBe(40);
    expect(deploy.parties).toEqual(['bob']);
    expect(deploy.channel).toBe('ops');
    expect(hello.subject).toBeNull();
    expect(hello.snippet).toBe('hello');
    expect(hello.unread).toBe(0);
    expect(hello.parties).toEqual(['carol']);
  });

  it('names group targets and every other party, in order', () => {
    const thread = [
      msg(1, { from: ME, to: 'tag:ops' }),
      msg(2, { from: 'bob', to: ME, threadId: 1 }),
      msg(3, { from: 'carol', to: ME, threadId: 1 }),
    ];
    expect(threadParties(thread, [ME, PERCH])).toEqual(['tag:ops', 'bob', 'carol']);
  });

  it('names Perch’s agent in a thread between it and the person', () => {
    expect(threadParties([msg(1, { from: PERCH, to: ME })], [ME, PERCH])).toEqual([PERCH]);
    expect(threadParties([msg(1, { from: ME, to: PERCH })], [ME, PERCH])).toEqual([PERCH]);
  });

  it('cuts snippets to the first non-blank line', () => {
    expect(snippet('\n\n  first   line \nsecond')).toBe('first line');
    expect(snippet('x'.repeat(200), 10)).toBe('xxxxxxxxx…');
    expect(snippet('')).toBe('');
  });
});

describe('replyTarget', () => {
  it('answers the last message the person did not send, on its channel', () => {
    const thread = [
      msg(1, { from: 'bob', to: ME, channel: 'ops' }),
      msg(2, { from: 'carol', to: 'tag:ops', threadId: 1, channel: 'dev' }),
      msg(3, { from: ME, to: 'bob', threadId: 1, channel: 'ops' }),
    ];
    expect(replyTarget(thread, ME)).toEqual({ to: 'carol', replyTo: 2, channel: 'dev' });
  });

  it('falls back to the last target in a thread of the person’s own messages', () => {
    const thread = [msg(1, { from: ME, to: 'tag:ops', channel: 'ops' }), msg(2, { from: ME, to: 'broadcast', threadId: 1 })];
    expect(replyTarget(thread, ME)).toEqual({ to: 'broadcast', replyTo: 2, channel: null });
    expect(replyTarget([], ME)).toBeNull();
  });
});

describe('targets and filter options', () => {
  const agents = [
    agent('zed', { tags: ['ops', 'dev'], capabilities: ['chat'], label: 'Zed', channels: ['ops'] }),
    agent('amy', { tags: ['ops'], capabilities: ['review'], channels: ['design'] }),
    agent(ME),
  ];

  it('knows group targets', () => {
    for (const t of ['tag:ops', 'cap:chat', 'label:Zed', 'broadcast']) expect(isGroupTarget(t), t).toBe(true);
    for (const t of ['bob', 'tagger', 'broadcaster']) expect(isGroupTarget(t), t).toBe(false);
  });

  it('suggests agent ids, then tag:, cap:, label: and broadcast', () => {
    expect(targetHints(agents, [ME]).map((h) => h.value)).toEqual([
      'amy',
      'zed',
      'tag:dev',
      'tag:ops',
      'cap:chat',
      'cap:review',
      'label:Zed',
      'broadcast',
    ]);
  });

  it('builds the channel and agent choices from messages and agents', () => {
    const messages = [msg(1, { channel: 'alerts' }), msg(2, { from: ME, to: 'tag:ops' }), msg(3, { from: 'carol', to: PERCH })];
    expect(channelOptions(messages, agents, ['ops', null, ''])).toEqual(['alerts', 'design', 'ops']);
    expect(agentOptions(messages, agents, [ME], ['dora'])).toEqual(['amy', 'bob', 'carol', 'dora', PERCH, 'zed']);
  });

  it('sorts agents: named ones first, then by presence and id', () => {
    const list = [
      agent('b', { status: 'offline' }),
      agent('a', { status: 'offline' }),
      agent('c', { status: 'busy' }),
      agent(PERCH, { status: 'offline' }),
    ];
    expect(sortAgents(list, [PERCH]).map((a) => a.id)).toEqual([PERCH, 'c', 'a', 'b']);
  });
});

describe('peerLink', () => {
  it('is the link while the network is on, else null', () => {
    const on = status({ unread: 3 });
    expect(peerLink(on)).toBe(on);
    expect(peerLink({ enabled: false })).toBeNull();
    expect(peerLink(null)).toBeNull();
    expect(peerLink(undefined)).toBeNull();
  });
});

describe('helpers', () => {
  it('toggles a name in a list', () => {
    expect(withToggled(['a', 'b'], 'c', true)).toEqual(['a', 'b', 'c']);
    expect(withToggled(['a', 'b'], 'a', true)).toEqual(['a', 'b']);
    expect(withToggled(['a', 'b'], 'a', false)).toEqual(['b']);
    expect(withToggled([], 'a', false)).toEqual([]);
  });

  it('maps presence to a tone', () => {
    expect(presenceTone('online')).toBe('ok');
    expect(presenceTone('busy')).toBe('warn');
    expect(presenceTone('away')).toBe('info');
    expect(presenceTone('offline')).toBe('off');
  });

  it('only lets http(s) links through', () => {
    expect(safeHttpUrl('https://ci.example/run/1')).toBe('https://ci.example/run/1');
    expect(safeHttpUrl('javascript:alert(1)')).toBeNull();
    expect(safeHttpUrl('data:text/html,x')).toBeNull();
    expect(safeHttpUrl('not a url')).toBeNull();
    expect(safeHttpUrl(null)).toBeNull();
  });
});
