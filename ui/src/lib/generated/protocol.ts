// Generated from crates/protocol by its tests/typescript.rs; do not edit.
// After changing those types: UPDATE_GENERATED=1 cargo test -p perch-protocol

export type List<T> = { data: Array<T>, total?: number, hasMore?: boolean, };

export type SendMessage = { 
/**
 * An agent id, `tag:…`, `cap:…`, `label:…` or `broadcast`.
 */
to: string, body: string, subject?: string, channel?: string, replyTo?: number, 
/**
 * Optional on the wire (false when absent); the UI always sends it.
 */
urgent: boolean, claimable: boolean, };

export type ReadMarks = { ids: Array<number>, };

export type TokenUsage = { totalTokens: number, inputTokens: number, outputTokens: number, lastTurnTokens: number, contextWindow: number | null, };

export type Session = { 
/**
 * The Codex thread id.
 */
id: string, name: string | null, preview: string, pinned: boolean, archived: boolean, createdAt: number, lastActivityAt: number, model: string | null, effort: string | null, cwd: string | null, activeTurnId: string | null, tokenUsage: TokenUsage | null, };

export type NewSession = { name?: string, model?: string, effort?: string, cwd?: string, };

export type SessionPatch = { name?: string, pinned?: boolean, archived?: boolean, model?: string, effort?: string, };

export type SendMode = "start" | "steer";

export type Sent = { turnId: string, mode: SendMode, };

export type TurnStatus = "inProgress" | "completed" | "interrupted" | "failed";
