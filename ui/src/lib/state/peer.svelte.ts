// The peer network: its status (with the person's unread count), the agents,
// and the Inbox's messages. The pure parts are in `../peer.ts`.

import { api, ApiError } from '../api';
import { errMsg } from '../format';
import {
  applyPeerEvent,
  emptyPeer,
  markReadLocally,
  matchesFilter,
  mergeMessages,
  peerLink,
  sameFilter,
  withToggled,
  type PeerData,
  type PeerFilter,
} from '../peer';
import { navigate } from '../router.svelte';
import type { PeerMessage, PerchEvent, SendPeerMessage, SettingsPatch } from '../types';
import { loadSettings, saveSettings } from './settings.svelte';
import { data } from './store.svelte';

/** The peer network: status (with the unread count), agents, the Inbox's messages. */
export const peer: PeerData = $state(emptyPeer());

let peerStatusTimer: ReturnType<typeof setTimeout> | undefined;

/** Signed out: forgets the peer network. */
export function resetPeer(): void {
  clearTimeout(peerStatusTimer);
  Object.assign(peer, emptyPeer());
}

/** A `peer.message` or `peer.status` event of the stream. */
export function onPeerEvent(ev: PerchEvent): void {
  const { newUnread } = applyPeerEvent(peer, ev);
  // The unread count was raised locally: confirm it with the server soon.
  if (newUnread) {
    clearTimeout(peerStatusTimer);
    peerStatusTimer = setTimeout(() => void loadPeerStatus(), 300);
  }
}

function notFound(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404;
}

/** The peer network is off in this Perch (its routes answer 503 `peer_off`);
 *  remembers the server's explanation. */
function peerOff(e: unknown): boolean {
  if (!(e instanceof ApiError && e.code === 'peer_off')) return false;
  peer.offMessage = e.message;
  return true;
}

/** Grows whenever `POST /api/peer/read` answers with the unread count. */
let readEpoch = 0;

/** Fetches `GET /api/peer` (the status and the person's unread count). */
export async function loadPeerStatus(): Promise<void> {
  const epoch = readEpoch;
  try {
    const status = await api.peerStatus();
    // Messages were marked read while this was under way: the count from
    // that answer is newer.
    const known = peerLink(peer.status);
    if (epoch !== readEpoch && status.enabled && known) status.unread = known.unread;
    peer.status = status;
    peer.available = true;
    peer.statusError = null;
    if (status.enabled) peer.offMessage = null;
  } catch (e) {
    if (notFound(e)) peer.available = false;
    else if (!(e instanceof ApiError && e.status === 401)) peer.statusError = errMsg(e);
  }
}

/** After a reconnect or `reset`: the status, and the Inbox if it was loaded. */
export async function refreshPeer(): Promise<void> {
  await loadPeerStatus();
  if (peer.available && peer.inbox.loaded) await loadInbox(peer.inbox.filter);
}

export async function loadPeerAgents(): Promise<void> {
  try {
    peer.agents = (await api.peerAgents()).data;
    peer.agentsLoaded = true;
  } catch (e) {
    if (peerOff(e)) {
      peer.agents = [];
      peer.agentsLoaded = true;
    } else if (notFound(e)) {
      peer.available = false;
    } else if (!(e instanceof ApiError && e.status === 401)) {
      peer.statusError = errMsg(e);
    }
  }
}

let inboxRequest = 0;

/** Loads the newest messages for `filter` into the Inbox. Live messages
 *  that arrive meanwhile are kept. */
export async function loadInbox(filter: PeerFilter): Promise<void> {
  const request = ++inboxRequest;
  const inbox = peer.inbox;
  if (!sameFilter(inbox.filter, filter)) {
    inbox.filter = { ...filter };
    inbox.messages = [];
    inbox.hasMore = false;
    inbox.loaded = false;
  }
  inbox.loading = true;
  inbox.error = null;
  try {
    const res = await api.peerMessages({ channel: filter.channel || undefined, agent: filter.agent || undefined });
    if (request !== inboxRequest) return;
    inbox.messages = mergeMessages(inbox.messages, res.data);
    inbox.hasMore = res.hasMore;
    inbox.loaded = true;
  } catch (e) {
    if (request !== inboxRequest) return;
    if (peerOff(e)) {
      inbox.loaded = true;
    } else {
      if (notFound(e)) peer.available = false;
      inbox.error = errMsg(e);
    }
  } finally {
    if (request === inboxRequest) inbox.loading = false;
  }
}

/** Loads the page before the oldest loaded message. */
export async function loadOlderInbox(): Promise<void> {
  const inbox = peer.inbox;
  const first = inbox.messages[0];
  if (!first || inbox.loading) return;
  const request = ++inboxRequest;
  const filter = { ...inbox.filter };
  inbox.loading = true;
  inbox.error = null;
  try {
    const res = await api.peerMessages({
      channel: filter.channel || undefined,
      agent: filter.agent || undefined,
      beforeId: first.id,
    });
    if (request !== inboxRequest) return;
    inbox.messages = mergeMessages(inbox.messages, res.data);
    inbox.hasMore = res.hasMore;
  } catch (e) {
    if (request === inboxRequest) inbox.error = errMsg(e);
  } finally {
    if (request === inboxRequest) inbox.loading = false;
  }
}

const markingRead = new Set<number>();

/** Marks messages read by the person (shown at once, then confirmed). */
export async function markPeerRead(ids: number[]): Promise<void> {
  const todo = ids.filter((id) => !markingRead.has(id));
  if (todo.length === 0) return;
  for (const id of todo) markingRead.add(id);
  markReadLocally(peer.inbox.messages, todo, peerLink(peer.status)?.personId ?? null);
  try {
    const res = await api.markPeerRead(todo);
    const link = peerLink(peer.status);
    if (link) {
      readEpoch += 1;
      link.unread = res.unread;
    }
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) peer.inbox.error = 'Could not mark messages read: ' + errMsg(e);
  } finally {
    for (const id of todo) markingRead.delete(id);
  }
}

/** Sends a message as the person; throws ApiError (a 400 carries the reason). */
export async function sendPeerMessage(body: SendPeerMessage): Promise<PeerMessage> {
  const m = await api.sendPeerMessage(body);
  const inbox = peer.inbox;
  if (inbox.loaded && matchesFilter(m, inbox.filter) && !inbox.messages.some((x) => x.id === m.id)) {
    inbox.messages = mergeMessages(inbox.messages, [m]);
  }
  return m;
}

/** Opens the Inbox's compose form addressed to `to`. */
export function composePeerMessage(to: string): void {
  peer.composeTo = to;
  navigate({ page: 'inbox', threadId: null });
}

/** Mutes or unmutes notifications for a peer agent or channel. */
export async function setPeerMuted(kind: 'agent' | 'channel', name: string, muted: boolean): Promise<void> {
  const settings = data.settings ?? (await loadSettings());
  const n = settings.notifications;
  const body: SettingsPatch =
    kind === 'agent'
      ? { notifications: { mutedAgents: withToggled(n.mutedAgents, name, muted) } }
      : { notifications: { mutedChannels: withToggled(n.mutedChannels, name, muted) } };
  await saveSettings(body);
}
