// The chat of the open session: sending messages, interrupting a turn, and
// the outputs of slash commands.

import { api, ApiError } from '../api';
import { localImagePart } from '../attachments';
import { runCommand, type CommandResult, type ParsedInput } from '../commands';
import { activeTurnId, addSentMessage, upsertSession } from '../reducer';
import { loadAccount } from './account.svelte';
import { reloadAll } from './connection.svelte';
import { openNewSession } from './sessions.svelte';
import { data, showError, toast } from './store.svelte';

/** A slash command's output in the chat: local, never sent to Codex, not kept. */
export interface CommandEntry {
  id: string;
  /** What the person typed. */
  input: string;
  at: number;
  /** Shown after this turn (null: before the first). */
  afterTurn: string | null;
  /** null while it runs. */
  result: CommandResult | null;
}

/** Command outputs per session id. */
export const commandLog: Record<string, CommandEntry[]> = $state({});

export function runningTurn(sessionId: string | null): string | null {
  return sessionId ? activeTurnId(data, sessionId) : null;
}

/** Sends a message to the open session; throws ApiError (409 `not_signed_in`: see `isNotSignedIn`). */
export function send(text: string): Promise<'start' | 'steer' | null> {
  const id = data.selectedId;
  return id ? sendTo(id, text) : Promise.resolve(null);
}

/** The server refused a message because Codex needs a sign-in it does not have. */
export function isNotSignedIn(e: unknown): boolean {
  return e instanceof ApiError && e.code === 'not_signed_in';
}

/**
 * Sends `text` and the images `attachments` (ids from `api.uploadAttachment`;
 * the text may be empty when there are some) to a session.
 */
export async function sendTo(id: string, text: string, attachments: string[] = []): Promise<'start' | 'steer' | null> {
  if (!text.trim() && attachments.length === 0) return null;
  if (!data.turns[id]) data.turns[id] = [];
  const res = await api.sendMessage(id, text, attachments);
  toast.message = null;
  // A session without messages may have moved to a new id (`session.replaced`).
  addSentMessage(data, res.sessionId, res.turnId, text, attachments.map(localImagePart));
  return res.mode;
}

/**
 * Sends an earlier turn's message again, as a new turn at the end of its
 * session (the turns after it stay); throws ApiError.
 */
export async function retryTurn(sessionId: string, text: string, attachments: string[] = []): Promise<void> {
  try {
    await sendTo(sessionId, text, attachments);
  } catch (e) {
    if (isNotSignedIn(e)) void loadAccount().catch(() => {});
    throw e;
  }
}

/**
 * Takes back `turnId` and the turns after it, then sends `text` (and the
 * images `attachments`, by id) in their place: Retry (the same message) and
 * Edit (new text). The turns taken back leave the model's context. Throws
 * ApiError; the account is read again when Codex turns out not to be signed
 * in, so the chat shows the sign-in.
 */
export async function resendTurn(sessionId: string, turnId: string, text: string, attachments: string[] = []): Promise<void> {
  try {
    const res = await api.resend(sessionId, turnId, text, attachments);
    toast.message = null;
    const turns = data.turns[sessionId];
    if (turns) {
      const at = turns.findIndex((t) => t.id === turnId);
      if (at !== -1) data.turns[sessionId] = turns.slice(0, at);
    }
    addSentMessage(data, res.sessionId, res.turnId, text, attachments.map(localImagePart));
  } catch (e) {
    if (isNotSignedIn(e)) void loadAccount().catch(() => {});
    throw e;
  }
}

/** Forks the session through `turnId` (inclusive) and opens the fork. */
export async function forkFrom(sessionId: string, turnId: string): Promise<void> {
  try {
    openNewSession(await api.forkSession(sessionId, turnId));
  } catch (e) {
    showError(e);
  }
}

/** The message being edited in place (Edit, or Up in an empty composer). */
export const editing = $state({ itemId: null as string | null });

/**
 * Runs a slash command typed in `sessionId`'s composer and shows its output
 * there (a `/new` output moves to the session it opened). No model turn.
 */
export async function runSlashCommand(sessionId: string, input: string, parsed: ParsedInput): Promise<void> {
  const turns = data.turns[sessionId] ?? [];
  const entry: CommandEntry = {
    id: `cmd-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    input: input.trim(),
    at: Date.now(),
    afterTurn: turns.length ? turns[turns.length - 1].id : null,
    result: null,
  };
  appendCommand(sessionId, entry);
  const result = await runCommand(parsed, {
    session: data.sessions.find((s) => s.id === sessionId) ?? null,
    defaultModel: data.status?.model ?? null,
    openSession: openNewSession,
    sessionChanged: (s) => upsertSession(data, s),
  });
  const log = commandLog[sessionId] ?? [];
  const i = log.findIndex((e) => e.id === entry.id);
  if (i === -1) return; // dismissed meanwhile
  if (result.openedSessionId && result.openedSessionId !== sessionId) {
    const moved = { ...log[i], result, afterTurn: null };
    log.splice(i, 1);
    appendCommand(result.openedSessionId, moved);
  } else {
    log[i].result = result;
  }
}

/** Adds an output to a session's log (through the store's proxy, so the chat sees it). */
function appendCommand(sessionId: string, entry: CommandEntry): void {
  if (!commandLog[sessionId]) commandLog[sessionId] = [];
  commandLog[sessionId].push(entry);
}

export function dismissCommand(sessionId: string, id: string): void {
  const log = commandLog[sessionId];
  if (!log) return;
  const i = log.findIndex((e) => e.id === id);
  if (i !== -1) log.splice(i, 1);
}

export async function interrupt(sessionId: string): Promise<void> {
  try {
    await api.interrupt(sessionId);
  } catch (e) {
    if (e instanceof ApiError && e.status === 409) {
      // Nothing runs any more: our view is stale.
      const s = data.sessions.find((x) => x.id === sessionId);
      if (s) s.activeTurnId = null;
      void reloadAll(true);
      return;
    }
    showError(e);
  }
}
