// Shapes from docs/api.md. What the API contract (`crates/protocol`) defines
// is generated into ./generated/protocol.ts and re-exported here, under the
// UI's names where they differ; only what the UI adds (the event stream's
// control events, the local parts of a turn) or what the contract does not
// type yet is written here.

/**
 * The answer of every list route (`GET /api/sessions`, `/api/memories`,
 * `/api/peer/messages`, …): the items in `data`, plus `total` and `hasMore`
 * on the routes that have them.
 */
export type { List } from './generated/protocol';
import type {
  Event as RuntimeEvent,
  HistoryTurn,
  Item,
  NotificationSettings,
} from './generated/protocol';

// Errors, `/api/health`, `/api/auth/*`.
export type { ErrorBody, ErrorDetail, Health, LoginCode, SignIn } from './generated/protocol';

// `/api/status`, `/api/models`, `/api/diagnostics`.
export type {
  ActiveTurn,
  CodexState,
  CodexStatus,
  Diagnostics,
  ModelInfo as Model,
  Status,
} from './generated/protocol';

// Sessions and turns (`/api/sessions*`).
export type {
  Compacting,
  HistoryTurn,
  Interrupting,
  NewSession,
  SendMode,
  Sent,
  Session,
  SessionPatch,
  SessionQuery,
  TokenUsage,
  TurnStatus,
  UserText,
  Resend,
} from './generated/protocol';

// The composer's images (`POST /api/attachments`) and `@` file mentions
// (`GET /api/sessions/{id}/files`).
export type { Attachment, FileMatch, FileQuery } from './generated/protocol';

// Codex's live trouble with the model during a turn (`turn.problem`).
export type { ProblemKind, TurnProblem } from './generated/protocol';

// Codex's thread items (`userMessage`, `agentMessage`, …; `other` for every
// kind Perch does not draw), as the history and the `item.*` events give them.
export type { ChangeKind, FileChange, Item, ItemStatus, ToolError, UserInput } from './generated/protocol';

/** An item as the UI holds it: Codex's item plus what the UI adds to it. */
export type ShownItem = Item & {
  /** The local echo of a message the person sent, until Codex reports it. */
  local?: boolean;
  /** Set by the UI on `item.completed`. */
  _done?: boolean;
  /** Text streamed into a fileChange by `fileChange` deltas. */
  output?: string;
};

/** One kind (or a few) of the items the UI holds, e.g. `ShownItemOf<'reasoning'>`. */
export type ShownItemOf<T extends ShownItem['type']> = Extract<ShownItem, { type: T }>;

/** A turn as the UI keeps it: the history's turn with its items as shown, plus its diff. */
export type Turn = Omit<HistoryTurn, 'items'> & {
  items: ShownItem[];
  /** Set by the UI from `turn.diff`. */
  diff?: string;
};

// Approvals (`/api/approvals`).
export type {
  Answer,
  Approval,
  ApprovalFilter,
  ApprovalKind,
  ApprovalQuery,
  ApprovalStatus,
  Decision as ApprovalDecision,
} from './generated/protocol';

// The Codex account (`/api/account*`).
export type {
  Account,
  AccountState,
  Login as AccountLogin,
  LoginStarted,
} from './generated/protocol';

// Settings (`GET /api/settings`, `PATCH /api/settings`).
export type {
  ApprovalPolicy,
  AutostartState,
  CodexPatch,
  CodexSettings,
  MemorySettings,
  MemorySettingsPatch,
  NotificationSettings,
  NotificationsPatch,
  Paths,
  ProviderCheck,
  ProviderChecked,
  ProviderKey,
  ProviderSettings,
  RelayToken,
  SecretBackend,
  SecretsState,
  Settings,
  SettingsPatch,
} from './generated/protocol';

/** The on/off notification settings (not the muted lists). */
export type NotificationFlag = {
  [K in keyof NotificationSettings]: NotificationSettings[K] extends boolean ? K : never;
}[keyof NotificationSettings];

// Memory (`/api/memories`), the planner (`/api/plans`) and wakeups
// (`/api/wakeups`): generated from the Rust contract (`crates/protocol`).
// A `NewSchedule` is a schedule as a new wakeup gives it (the server turns it
// into a `Schedule`); `Misfire` is what happens to a run missed while Perch
// was off: skip it, run it once, ask the person.
export type {
  CreatedBy,
  ImportReport as MemoryImportResult,
  Memory,
  MemoryAction,
  MemoryFormat,
  MemoryPatch,
  MemorySource,
  MillisOrText,
  Misfire,
  NewMemory,
  BulkDelete,
  Deleted,
  NewPlan,
  NewPlanItem,
  NewSchedule,
  NewWakeup,
  Plan,
  PlanItem,
  PlanItemPatch,
  PlanRename,
  PlanClear,
  RunStatus as WakeupRunStatus,
  Schedule,
  Target as WakeupTarget,
  Wakeup,
  WakeupPatch,
  WakeupRun,
} from './generated/protocol';

// Agent changes (`/api/changes*`): every change the agent made or asks to
// make with Perch's tools, with where it came from. One asked for in a turn
// answering peer messages is `pending` until the person accepts or discards it.
export type {
  AgentChange,
  ChangeQuery,
  ChangeStatus,
  PeerSender,
  Provenance as ChangeProvenance,
  ProvenanceKind as ChangeProvenanceKind,
} from './generated/protocol';

/** The query of `GET /api/memories`. */
export interface MemoryQuery {
  q?: string;
  tag?: string;
  limit?: number;
  offset?: number;
}

// The peer network (`/api/peer/*`): Perch's agent is one peer on an Agent
// Relay; the person using Perch is a participant too (`personId`). Agents,
// pairs, tasks and messages are the relay's own types. `GET /api/peer`
// answers a `PeerLink` (`enabled: true`) or `PeerOff` (`{enabled: false}`).
// A message's `body` is untrusted text: shown as plain text, never as HTML
// or markdown.
export type {
  Agent as PeerAgent,
  AgentStatus as PeerPresence,
  DeliveryState as PeerDeliveryState,
  DeliveryStatus as PeerDelivery,
  DeviceLinkCode,
  InboxQuery as PeerMessageQuery,
  KeyDevice,
  KeyStanding,
  Pair as PeerPair,
  PairStatus as PeerPairStatus,
  PeerLink,
  PeerMessage,
  PeerOff,
  JoinDevice,
  PeerKeys,
  PeersKeys,
  PeerStatus,
  PersonDevice,
  PersonDevices,
  PinKeys,
  ReadMarks,
  SendMessage as SendPeerMessage,
  Task as PeerTask,
  TaskStatus as PeerTaskStatus,
  Unread,
} from './generated/protocol';

// The event stream (`GET /api/events`). Runtime events are generated from
// the contract: each has a `seq` (1, 2, 3…, the SSE `id:`) and `at`, plus
// the payload of its `type`. Besides them the stream sends its own control
// events, which are not runtime events and carry no `seq` (nor SSE `id:`):
// `lagged` (this client fell behind the replay buffer; `skipped` events
// were dropped) and `reset` (the events after Last-Event-ID are gone).
// Either means: reload from REST.
export type { DeltaKind, Event as RuntimeEvent, EventKind } from './generated/protocol';

/** The SSE stream's own events (no `seq`, no SSE `id:`). */
export type StreamControl = { type: 'lagged'; skipped: number; at: number } | { type: 'reset'; at: number };

/** Anything the event stream delivers: a runtime event or a control event. */
export type PerchEvent = RuntimeEvent | StreamControl;

/** The events of the agent's state (memory, planner, wakeups). */
export type AgentStateEvent = Extract<
  PerchEvent,
  { type: 'memory.changed' | 'plan.changed' | 'wakeup.changed' | 'wakeup.run' }
>;

/** The events of the agent's changes (`change.pending`, `change.decided`). */
export type ChangeEvent = Extract<PerchEvent, { type: 'change.pending' | 'change.decided' }>;

export type { LineSpan, SearchHit, SearchResults, SearchTarget } from './generated/protocol';
export type { GitState, NewProject, Project } from './generated/protocol';
