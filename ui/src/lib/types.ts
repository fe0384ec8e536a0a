// Shapes from docs/api.md. Keep in step with the API contract.

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

export interface TokenUsage {
  totalTokens: number;
  inputTokens: number;
  outputTokens: number;
  lastTurnTokens: number;
  contextWindow: number | null;
}

export interface Session {
  id: string;
  name: string | null;
  preview: string;
  pinned: boolean;
  archived: boolean;
  createdAt: number;
  lastActivityAt: number;
  model: string | null;
  effort: string | null;
  activeTurnId: string | null;
  tokenUsage: TokenUsage | null;
}

export type TurnStatus = 'inProgress' | 'completed' | 'interrupted' | 'failed';

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
}

export interface Settings {
  codex: CodexSettings;
  provider: ProviderSettings | null;
  /** An API key for the provider is stored (never sent to the UI). */
  providerKeySet: boolean;
  notifications: NotificationSettings;
  autostart: { supported: boolean; enabled: boolean; error: string | null };
  secrets: { backend: 'keyring' | 'file'; warning: string | null };
  paths: { data: string; config: string; logs: string | null; codexHome: string | null };
  /** The Codex binary or provider changed: Codex must restart to apply it. */
  restartRequired: boolean;
}

export interface SettingsPatch {
  codex?: Partial<CodexSettings>;
  provider?: ProviderSettings | null;
  notifications?: Partial<NotificationSettings>;
  autostart?: boolean;
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
    | { type: 'lagged'; skipped: number }
    | { type: 'reset' }
  );
