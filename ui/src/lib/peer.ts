// The peer network in the UI: the peer store's shape, how `peer.*` events
// change it, and the Inbox's threads. Pure functions over plain objects, so
// they can be unit-tested (tests/peer.test.ts); `state/peer.svelte.ts` passes
// its `$state` proxy in.
//
// Message text from peers is untrusted: nothing here turns it into markup,
// and the pages render it as plain text.

import type { PeerAgent, PeerLink, PeerMessage, PeerPresence, PeerStatus, PerchEvent } from './types';

/** The Inbox's filters; an empty string is "any". */
export interface PeerFilter {
  channel: string;
  agent: string;
}

export interface PeerInbox {
  /** Messages for `filter`, ascending ids, no duplicates. */
  messages: PeerMessage[];
  /** Older messages than the first one exist on the server. */
  hasMore: boolean;
  filter: PeerFilter;
  /** The first page for `filter` has been fetched. */
  loaded: boolean;
  loading: boolean;
  error: string | null;
}

export interface PeerData {
  /** null until `GET /api/peer` answered. */
  status: PeerStatus | null;
  /** false when this Perch has no peer network routes (404). */
  available: boolean;
  statusError: string | null;
  agents: PeerAgent[];
  agentsLoaded: boolean;
  inbox: PeerInbox;
  /** Grows on every `peer.*` event: pages refetch their lists on a change. */
  events: number;
  /** A recipient for the Inbox's compose form (set by the Peers page). */
  composeTo: string | null;
  /** Why the peer network is off, as the server put it (503 `peer_off`). */
  offMessage: string | null;
}

export function emptyFilter(): PeerFilter {
  return { channel: '', agent: '' };
}

export function emptyInbox(): PeerInbox {
  return { messages: [], hasMore: false, filter: emptyFilter(), loaded: false, loading: false, error: null };
}

export function emptyPeer(): PeerData {
  return {
    status: null,
    available: true,
    statusError: null,
    agents: [],
    agentsLoaded: false,
    inbox: emptyInbox(),
    events: 0,
    composeTo: null,
    offMessage: null,
  };
}

/** `incoming` merged into `list`: ascending ids, a known id replaced. */
export function mergeMessages(list: PeerMessage[], incoming: PeerMessage[]): PeerMessage[] {
  const byId = new Map<number, PeerMessage>();
  for (const m of list) byId.set(m.id, m);
  for (const m of incoming) byId.set(m.id, m);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

/** Whether a message belongs to the Inbox under `filter` (as the server filters). */
export function matchesFilter(m: PeerMessage, filter: PeerFilter): boolean {
  if (filter.channel && m.channel !== filter.channel) return false;
  if (filter.agent && m.from !== filter.agent && m.to !== filter.agent) return false;
  return true;
}

export function sameFilter(a: PeerFilter, b: PeerFilter): boolean {
  return a.channel === b.channel && a.agent === b.agent;
}

export interface PeerEventOutcome {
  /** A new unread message: the unread count is worth confirming with the server. */
  newUnread: boolean;
}

/** The peer network's link when it is on (`GET /api/peer` answers
 *  `{enabled: false}` when it is off), else null. */
export function peerLink(status: PeerStatus | null | undefined): PeerLink | null {
  return status?.enabled ? status : null;
}

/**
 * Applies a `peer.*` event to the peer store; other events change nothing.
 * The server follows a message to the person with a `peer.status` carrying
 * the new unread count, so a message event does not count by itself.
 */
export function applyPeerEvent(d: PeerData, ev: PerchEvent): PeerEventOutcome {
  if (ev.type === 'peer.status') {
    if (ev.status && typeof ev.status === 'object') {
      d.status = ev.status;
      d.available = true;
      d.statusError = null;
      if (d.status.enabled) d.offMessage = null;
    }
    d.events += 1;
    return { newUnread: false };
  }
  if (ev.type !== 'peer.message' || !ev.message || typeof ev.message !== 'object') return { newUnread: false };
  const m = ev.message;
  d.events += 1;
  const known = d.inbox.messages.some((x) => x.id === m.id);
  if ((d.inbox.loaded || d.inbox.loading) && matchesFilter(m, d.inbox.filter)) {
    d.inbox.messages = mergeMessages(d.inbox.messages, [m]);
  }
  return { newUnread: m.unread === true && !known };
}

/** Marks messages read by the person in a loaded list (after `POST /api/peer/read`). */
export function markReadLocally(messages: PeerMessage[], ids: number[], personId: string | null): void {
  const set = new Set(ids);
  for (const m of messages) {
    if (!set.has(m.id)) continue;
    m.unread = false;
    if (personId && !m.readBy.includes(personId)) m.readBy.push(personId);
  }
}

// ---------------------------------------------------------------------------
// Targets

const GROUP_PREFIXES = ['tag:', 'cap:', 'label:'] as const;

/** `tag:x`, `cap:x`, `label:x` and `broadcast` address many agents; anything
 *  else is one agent's id. */
export function isGroupTarget(to: string): boolean {
  return to === 'broadcast' || GROUP_PREFIXES.some((p) => to.startsWith(p));
}

export interface TargetHint {
  value: string;
  label: string;
}

/** Suggestions for a message's `to`: agent ids, then `tag:`, `cap:`, `label:` and `broadcast`. */
export function targetHints(agents: PeerAgent[], exclude: string[] = []): TargetHint[] {
  const out: TargetHint[] = [];
  const seen = new Set<string>(exclude);
  const add = (value: string, label: string) => {
    if (!value || seen.has(value)) return;
    seen.add(value);
    out.push({ value, label });
  };
  const sorted = agents.slice().sort((a, b) => a.id.localeCompare(b.id));
  for (const a of sorted) add(a.id, a.label || a.name || 'agent');
  const tags = new Set<string>();
  const caps = new Set<string>();
  const labels = new Set<string>();
  for (const a of sorted) {
    for (const t of a.tags) tags.add(t);
    for (const c of a.capabilities) caps.add(c);
    if (a.label) labels.add(a.label);
  }
  for (const t of [...tags].sort()) add(`tag:${t}`, 'every agent with this tag');
  for (const c of [...caps].sort()) add(`cap:${c}`, 'every agent with this capability');
  for (const l of [...labels].sort()) add(`label:${l}`, 'every agent with this label');
  add('broadcast', 'every agent');
  return out;
}

/** Channel names from the messages, the agents and extra names, sorted. */
export function channelOptions(messages: PeerMessage[], agents: PeerAgent[], extra: (string | null | undefined)[] = []): string[] {
  const set = new Set<string>();
  for (const m of messages) if (m.channel) set.add(m.channel);
  for (const a of agents) for (const c of a.channels) if (c) set.add(c);
  for (const c of extra) if (c) set.add(c);
  return [...set].sort((a, b) => a.localeCompare(b));
}

/** Agent ids from the messages (senders, single-agent targets) and the agents, sorted, without `exclude`. */
export function agentOptions(messages: PeerMessage[], agents: PeerAgent[], exclude: string[] = [], extra: string[] = []): string[] {
  const set = new Set<string>();
  for (const m of messages) {
    set.add(m.from);
    if (!isGroupTarget(m.to)) set.add(m.to);
  }
  for (const a of agents) set.add(a.id);
  for (const x of extra) if (x) set.add(x);
  for (const x of exclude) set.delete(x);
  set.delete('');
  return [...set].sort((a, b) => a.localeCompare(b));
}

// ---------------------------------------------------------------------------
// Threads

export interface PeerThread {
  /** The id of the thread's first message. */
  id: number;
  /** Ascending ids. */
  messages: PeerMessage[];
  /** Who the person talks with: agent ids and group targets, first seen first. */
  parties: string[];
  subject: string | null;
  /** First line of the latest message. */
  snippet: string;
  lastAt: number;
  unread: number;
  channel: string | null;
}

/** The first non-blank line of a text, at most `max` characters. */
export function snippet(body: string, max = 120): string {
  const line = body.split(/\r\n|\r|\n/).find((l) => l.trim() !== '') ?? '';
  const t = line.trim().replace(/\s+/g, ' ');
  return t.length > max ? t.slice(0, max - 1).trimEnd() + '…' : t;
}

/**
 * The other side of a thread for the person: senders and targets that are
 * not `selfIds` (the person and Perch's agent), in order of appearance. A
 * thread only between the person and Perch's agent names the agent.
 */
export function threadParties(messages: PeerMessage[], selfIds: string[]): string[] {
  const out: string[] = [];
  const self = new Set(selfIds.filter(Boolean));
  const add = (id: string) => {
    if (id && !self.has(id) && !out.includes(id)) out.push(id);
  };
  for (const m of messages) {
    add(m.from);
    add(m.to);
  }
  if (out.length === 0) {
    // Between the person and Perch's agent (or to oneself).
    const other = messages.find((m) => m.from !== selfIds[0]) ?? messages[0];
    if (other) out.push(other.from !== selfIds[0] ? other.from : other.to);
  }
  return out;
}

/** Unread messages (for the person) of a list. */
export function unreadIds(messages: PeerMessage[]): number[] {
  return messages.filter((m) => m.unread).map((m) => m.id);
}

/**
 * Messages grouped by thread, newest activity first. `selfIds` are the
 * person's id, then Perch's agent id.
 */
export function groupThreads(messages: PeerMessage[], selfIds: string[]): PeerThread[] {
  const groups = new Map<number, PeerMessage[]>();
  for (const m of messages) {
    const list = groups.get(m.threadId);
    if (list) list.push(m);
    else groups.set(m.threadId, [m]);
  }
  const threads: PeerThread[] = [];
  for (const [id, list] of groups) {
    list.sort((a, b) => a.id - b.id);
    const last = list[list.length - 1];
    const subject = list.find((m) => m.subject && m.subject.trim())?.subject?.trim() ?? null;
    threads.push({
      id,
      messages: list,
      parties: threadParties(list, selfIds),
      subject,
      snippet: snippet(last.body),
      lastAt: Math.max(...list.map((m) => m.createdAt)),
      unread: list.filter((m) => m.unread).length,
      channel: last.channel ?? list.find((m) => m.channel)?.channel ?? null,
    });
  }
  threads.sort((a, b) => b.lastAt - a.lastAt || b.id - a.id);
  return threads;
}

export interface ReplyTarget {
  to: string;
  replyTo: number;
  channel: string | null;
}

/**
 * Where the person's reply in a thread goes: to the sender of the last
 * message the person did not send, as a reply to it, on its channel. In a
 * thread of the person's messages alone, to the last one's target.
 */
export function replyTarget(messages: PeerMessage[], personId: string): ReplyTarget | null {
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    const m = messages[i];
    if (m.from !== personId) return { to: m.from, replyTo: m.id, channel: m.channel };
  }
  const last = messages[messages.length - 1];
  return last ? { to: last.to, replyTo: last.id, channel: last.channel } : null;
}

// ---------------------------------------------------------------------------
// Mutes and presentation

/** `list` with `value` in it (`on`) or not, keeping the order. */
export function withToggled(list: readonly string[], value: string, on: boolean): string[] {
  if (on) return list.includes(value) ? [...list] : [...list, value];
  return list.filter((x) => x !== value);
}

/** Badge/dot tone of an agent's presence. */
export function presenceTone(status: PeerPresence | string): 'ok' | 'warn' | 'info' | 'off' {
  switch (status) {
    case 'online':
      return 'ok';
    case 'busy':
      return 'warn';
    case 'idle':
    case 'away':
      return 'info';
    default:
      return 'off';
  }
}

/** Badge tone of a task's or pair's status. */
export function statusTone(status: string): 'ok' | 'warn' | 'err' | 'info' | '' {
  switch (status) {
    case 'done':
    case 'active':
      return 'ok';
    case 'open':
    case 'pending':
    case 'blocked':
      return 'warn';
    case 'failed':
    case 'rejected':
      return 'err';
    case 'claimed':
    case 'in_progress':
      return 'info';
    default:
      return '';
  }
}

/** An `http(s)` URL from peer data, or null (never a `javascript:` link). */
export function safeHttpUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

/** Badge tone of a task's severity. */
export function severityTone(severity: string | null): 'err' | 'warn' | '' {
  switch ((severity ?? '').toLowerCase()) {
    case 'critical':
    case 'error':
    case 'high':
      return 'err';
    case 'warning':
    case 'warn':
    case 'medium':
      return 'warn';
    default:
      return '';
  }
}

const PRESENCE_ORDER: Record<string, number> = { online: 0, busy: 1, idle: 2, away: 3, offline: 4 };

/** Agents for the Peers table: `first` ids on top, then by presence, then by id. */
export function sortAgents(agents: PeerAgent[], first: string[] = []): PeerAgent[] {
  const rank = (a: PeerAgent) => {
    const i = first.indexOf(a.id);
    return i === -1 ? first.length : i;
  };
  return agents.slice().sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (PRESENCE_ORDER[a.status] ?? 5) - (PRESENCE_ORDER[b.status] ?? 5) ||
      a.id.localeCompare(b.id),
  );
}
