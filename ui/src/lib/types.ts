// Shapes from docs/api.md. Keep in step with the API contract; what is
// generated from it (./generated/protocol.ts) is imported, not restated.

/**
 * The answer of every list route (`GET /api/sessions`, `/api/memories`,
 * `/api/peer/messages`, …): the items in `data`, plus `total` and `hasMore`
 * on the routes that have them. Generated from the Rust contract
 * (`crates/protocol`); the rest of this file moves there route by route.
 */
export type { List } from './generated/protocol';
import type { Session, TokenUsage, TurnStatus } from './generated/protocol';

export type CodexState = 'starting' | 'ready' | 'degraded' | 'restarting' | 'failed' | 'stopped';

export type ApprovalPolicy = 'open' | 'guarded' | 'read-only';

export interface Status {
  version: string;
  codex: {
    state: CodexState;
    detail: string | null;
    version: string | null;
    pinnedVersion: string;
    restarts: number;
    pid: number | null;
  };
  activeTurns: { sessionId: string; turnId: string; stalled: boolean; startedAt: number }[];
  pendingApprovals: number;
  approvalPolicy: ApprovalPolicy;
  model: string | null;
  dataDir: string;
  /** Problems worth the person's attention (older servers omit it). */
  warnings?: string[];
}

export type {
  NewSession,
  SendMode,
  Sent,
  Session,
  SessionPatch,
  TokenUsage,
  TurnStatus,
} from './generated/protocol';

export type Item = { type: string; id: string; [k: string]: unknown };

export interface Turn {
  id: string;
  status: TurnStatus;
  error: string | null;
  items: Item[];
  /** Set by the UI from `turn.diff`. */
  diff?: string;
}

export type ApprovalDecision = 'accept' | 'acceptForSession' | 'decline' | 'cancel';

export interface Approval {
  id: string;
  sessionId: string;
  turnId: string | null;
  itemId: string | null;
  kind: 'command' | 'fileChange' | 'mcpElicitation';
  title: string;
  detail: string | null;
  status: 'pending' | ApprovalDecision | 'expired';
  createdAt: number;
  answeredAt: number | null;
}

export interface Model {
  id: string;
  displayName: string;
  efforts: string[];
  defaultEffort: string | null;
  isDefault: boolean;
}

export interface AccountInfo {
  account: { type?: string; email?: string; planType?: string; [k: string]: unknown } | null;
  requiresOpenaiAuth: boolean;
  login: unknown;
}

export interface LoginStartResult {
  type?: string;
  loginId?: string;
  verificationUrl?: string;
  userCode?: string;
  authUrl?: string;
  [k: string]: unknown;
}

// Settings (`GET /api/settings`, `PATCH /api/settings`).

export interface CodexSettings {
  bin: string | null;
  approvalPolicy: ApprovalPolicy;
  model: string | null;
  effort: string | null;
  cwd: string | null;
}

/** A custom OpenAI-compatible model provider. */
export interface ProviderSettings {
  id: string;
  name: string | null;
  baseUrl: string;
  envKey: string | null;
  wireApi: string;
}

export interface NotificationSettings {
  dnd: boolean;
  dndAllowsApprovals: boolean;
  approvals: boolean;
  turnFinished: boolean;
  codexRestarts: boolean;
  errors: boolean;
  /** Peer agents whose messages raise no notification (older servers omit it). */
  mutedAgents?: string[];
  /** Peer channels whose messages raise no notification (older servers omit it). */
  mutedChannels?: string[];
  /** A notification when a wakeup's turn finishes (older servers omit it). */
  wakeups?: boolean;
}

/** The on/off notification settings (not the muted lists). */
export type NotificationFlag = {
  [K in keyof NotificationSettings]-?: NonNullable<NotificationSettings[K]> extends boolean ? K : never;
}[keyof NotificationSettings];

export interface Settings {
  codex: CodexSettings;
  provider: ProviderSettings | null;
  /** An API key for the provider is stored (never sent to the UI). */
  providerKeySet: boolean;
  /** The relay token is stored (used from the next start). */
  relayTokenSet?: boolean;
  notifications: NotificationSettings;
  autostart: { supported: boolean; enabled: boolean; error: string | null };
  secrets: { backend: 'keyring' | 'file'; warning: string | null };
  paths: { data: string; config: string; logs: string | null; codexHome: string | null };
  /** The Codex binary or provider changed: Codex must restart to apply it. */
  restartRequired: boolean;
  /** The agent's long-term memory (older servers omit it). */
  memory?: MemorySettings;
}

export interface MemorySettings {
  /** Completed turns are archived into memory by themselves. */
  autoArchive: boolean;
  /** Relevant memories and open plan items go into each turn. */
  context: boolean;
  /** The most that context may take, in tokens. */
  contextTokens: number;
  embeddingsUrl: string | null;
  embeddingsModel: string | null;
}

export interface SettingsPatch {
  codex?: Partial<CodexSettings>;
  provider?: ProviderSettings | null;
  notifications?: Partial<NotificationSettings>;
  autostart?: boolean;
  memory?: Partial<MemorySettings>;
}

// Memory (`/api/memories`).

export type MemorySource = 'session' | 'peer' | 'person';

export interface Memory {
  id: number;
  text: string;
  tags: string[];
  source: MemorySource;
  /** The session id or peer agent id it came from, when known. */
  sourceRef: string | null;
  /** 0..1 (default 0.5). */
  importance: number;
  createdAt: number;
  updatedAt: number;
  lastUsedAt: number | null;
  /** Only in search results: higher is a better match. */
  score?: number;
}

export interface MemoryQuery {
  q?: string;
  tag?: string;
  limit?: number;
  offset?: number;
}

export interface NewMemory {
  text: string;
  tags?: string[];
  importance?: number;
}

export type MemoryPatch = Partial<NewMemory>;

export type MemoryFormat = 'jsonl' | 'markdown';

export interface MemoryImportResult {
  imported: number;
  skipped: number;
  /** Why lines were skipped, the first few (`line 3: …`), when the server says. */
  errors?: string[];
}

// Planner (`/api/plans`).

export interface PlanItem {
  id: number;
  text: string;
  done: boolean;
  /** 0-based index in the plan. */
  position: number;
  updatedAt: number;
  doneAt: number | null;
}

export interface Plan {
  id: number;
  name: string;
  items: PlanItem[];
  createdAt: number;
  updatedAt: number;
}

export interface PlanItemPatch {
  text?: string;
  done?: boolean;
  /** The new 0-based index; the other items shift. */
  position?: number;
}

// Wakeups (`/api/wakeups`).

export type Schedule =
  | { kind: 'at'; at: number }
  | { kind: 'every'; everyMs: number; anchor: number }
  /** `tz` is an IANA zone name. */
  | { kind: 'cron'; expr: string; tz: string };

/** A schedule as a new wakeup gives it (the server turns it into a `Schedule`). */
export type NewSchedule =
  | { kind: 'at'; at: number | string }
  /** `90s`, `10m`, `2h`, `1d`. */
  | { kind: 'in'; delay: string }
  | { kind: 'every'; every: string | number; anchor?: number }
  | { kind: 'cron'; expr: string; tz?: string };

export type WakeupTarget = { kind: 'session'; sessionId: string } | { kind: 'new' } | { kind: 'peer' };

/** What happens to a run missed while Perch was off: skip it, run it once, ask the person. */
export type Misfire = 'skip' | 'once' | 'ask';

export type WakeupRunStatus =
  | 'claimed'
  | 'running'
  | 'completed'
  | 'failed'
  | 'interrupted'
  | 'skipped'
  | 'missed'
  | 'dismissed';

export interface WakeupRun {
  id: number;
  wakeupId: number;
  label: string;
  scheduledAt: number;
  firedAt: number | null;
  status: WakeupRunStatus;
  sessionId: string | null;
  turnId: string | null;
  summary: string | null;
  finishedAt: number | null;
}

export interface Wakeup {
  id: number;
  label: string;
  prompt: string;
  schedule: Schedule;
  target: WakeupTarget;
  misfire: Misfire;
  graceMs: number;
  enabled: boolean;
  notify: boolean;
  /** null when finished (a fired `at`) or paused. */
  nextFireAt: number | null;
  createdBy: 'person' | 'agent';
  createdAt: number;
  updatedAt: number;
  lastRun: WakeupRun | null;
}

export interface NewWakeup {
  prompt: string;
  label?: string;
  schedule: NewSchedule;
  /** Default `{kind: 'new'}`. */
  target?: WakeupTarget;
  /** Default `once`. */
  misfire?: Misfire;
  /** Default 3600000. */
  graceMs?: number;
  /** Default true. */
  notify?: boolean;
}

export interface WakeupPatch {
  label?: string;
  prompt?: string;
  schedule?: NewSchedule;
  target?: WakeupTarget;
  misfire?: Misfire;
  graceMs?: number;
  notify?: boolean;
  /** false pauses, true resumes. */
  enabled?: boolean;
}

// The peer network (`/api/peer/*`): Perch's agent is one peer on an Agent
// Relay; the person using Perch is a participant too (`personId`).

export type PeerDeliveryState = 'idle' | 'delivering' | 'retrying' | 'failed';

export interface PeerStatus {
  enabled: boolean;
  relayUrl: string | null;
  /** The relay runs inside this Perch. */
  embedded: boolean;
  connected: boolean;
  /** Perch's agent on the relay. */
  agentId: string;
  /** The person using Perch: sends and receives as this id. */
  personId: string;
  label: string | null;
  tags: string[];
  capabilities: string[];
  channels: string[];
  sessionId: string | null;
  /** Messages to the person not read yet. */
  unread: number;
  lastError: string | null;
  delivery: { queued: number; state: PeerDeliveryState; attempt: number; error: string | null };
}

export type PeerPresence = 'online' | 'busy' | 'idle' | 'away' | 'offline';

export interface PeerAgent {
  id: string;
  name: string | null;
  label: string | null;
  machine: string | null;
  rig: string | null;
  tags: string[];
  capabilities: string[];
  channels: string[];
  status: PeerPresence;
  ready: boolean;
  meta: Record<string, unknown>;
  instanceId: string | null;
  epoch: number;
  registeredAt: number;
  lastSeen: number;
}

export interface PeerMessage {
  id: number;
  from: string;
  /** An agent id, `tag:x`, `cap:x`, `label:x` or `broadcast`. */
  to: string;
  channel: string | null;
  subject: string | null;
  /** Untrusted text: shown as plain text, never as HTML or markdown. */
  body: string;
  replyTo: number | null;
  /** The id of the thread's first message. */
  threadId: number;
  claimable: boolean;
  claimedBy: string | null;
  urgent: boolean;
  kind: string | null;
  /** The relay's own name for `kind` (passed through by some servers). */
  type?: string | null;
  meta: Record<string, unknown>;
  createdAt: number;
  readBy: string[];
  /** It reaches the person, who has not read it. */
  unread: boolean;
}

export interface PeerMessageQuery {
  channel?: string;
  agent?: string;
  beforeId?: number;
  limit?: number;
}

export interface SendPeerMessage {
  to: string;
  body: string;
  subject?: string;
  channel?: string;
  replyTo?: number;
}

export interface PeerPair {
  id: string;
  from: string;
  to: string;
  objective: string | null;
  status: 'pending' | 'active' | 'rejected' | 'ended';
  createdAt: number;
  updatedAt: number;
  endedBy: string | null;
}

export interface PeerTask {
  id: number;
  source: string;
  kind: string;
  /** The relay's own name for `kind` (passed through by some servers). */
  type?: string;
  severity: string | null;
  title: string;
  body: string | null;
  target: string;
  channel: string | null;
  externalUrl: string | null;
  /** open, claimed, in_progress, done, failed, cancelled (or newer ones). */
  status: string;
  claimedBy: string | null;
  progress: string | null;
  result: string | null;
  occurrenceCount: number;
  createdAt: number;
  updatedAt: number;
  lastSeenAt: number;
}

export type DeltaKind = 'agentMessage' | 'reasoning' | 'commandOutput' | 'fileChange';

interface EventBase {
  seq: number;
  at: number;
}

export type PerchEvent = EventBase &
  (
    | { type: 'codex.state'; state: CodexState; detail: string | null }
    | { type: 'session.updated'; session: Session }
    | { type: 'turn.started'; sessionId: string; turnId: string }
    | {
        type: 'turn.completed';
        sessionId: string;
        turnId: string;
        status: Exclude<TurnStatus, 'inProgress'>;
        error: string | null;
      }
    | { type: 'turn.stalled'; sessionId: string; turnId: string; silentForMs: number }
    | { type: 'item.started' | 'item.completed'; sessionId: string; turnId: string; item: Item }
    | { type: 'item.delta'; sessionId: string; turnId: string; itemId: string; kind: DeltaKind; delta: unknown }
    | { type: 'turn.diff'; sessionId: string; turnId: string; diff: string }
    | { type: 'tokens.updated'; sessionId: string; usage: TokenUsage }
    | { type: 'approval.requested' | 'approval.resolved'; approval: Approval }
    | { type: 'warning'; sessionId?: string; message: string }
    | { type: 'settings.changed'; settings: Settings }
    | { type: 'peer.message'; message: PeerMessage; toPerson?: boolean; toAgent?: boolean }
    | { type: 'peer.status'; status: PeerStatus }
    | { type: 'memory.changed'; action: 'added' | 'updated' | 'deleted' | 'imported' | 'embedded'; ids: number[] }
    | { type: 'plan.changed'; planId: number; plan: Plan | null }
    | { type: 'wakeup.changed'; wakeupId: number; wakeup: Wakeup | null }
    | { type: 'wakeup.run'; run: WakeupRun; notify?: boolean }
    | { type: 'lagged'; skipped: number }
    | { type: 'reset' }
  );

/** The events of the agent's state (memory, planner, wakeups). */
export type AgentStateEvent = Extract<
  PerchEvent,
  { type: 'memory.changed' | 'plan.changed' | 'wakeup.changed' | 'wakeup.run' }
>;
