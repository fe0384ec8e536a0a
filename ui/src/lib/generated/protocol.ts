// Generated from crates/protocol (and the relay types it uses) by its
// tests/typescript.rs; do not edit.
// After changing those types: UPDATE_GENERATED=1 cargo test -p perch-protocol

export type List<T> = { data: Array<T>, total?: number, hasMore?: boolean, };

export type ErrorBody = { error: ErrorDetail, };

export type ErrorDetail = { 
/**
 * A stable word a program can branch on (`not_found`, `invalid_input`, …).
 */
code: string, 
/**
 * What failed and what to do about it, for a person.
 */
message: string, };

export type Health = { 
/**
 * Always `ok`.
 */
status: string, 
/**
 * Perch's version.
 */
version: string, };

export type SignIn = { token?: string, code?: string, };

export type LoginCode = { code: string, 
/**
 * Milliseconds since the epoch.
 */
expiresAt: number, };

export type Login = { "type": "apiKey", apiKey: string, } | { "type": "chatgptDeviceCode" };

export type AccountState = { 
/**
 * `null`: not signed in.
 */
account: Account | null, 
/**
 * Whether the provider Codex uses needs an OpenAI sign-in (a
 * configured provider of its own needs none).
 */
requiresOpenaiAuth: boolean, 
/**
 * Perch runs Codex on the person's own Codex home (`~/.codex`, or
 * `CODEX_HOME`): signing in or out here does so for the Codex CLI too.
 */
sharedWithCodexCli: boolean, };

export type Account = { "type": "apiKey" } | { "type": "chatgpt", email: string | null, 
/**
 * `plus`, `pro`, `team`, … as Codex names it.
 */
planType: string | null, } | { "type": "amazonBedrock" } | { "type": "gcp" } | { "type": "other" };

export type LoginStarted = { "type": "apiKey" } | { "type": "chatgptDeviceCode", loginId: string, verificationUrl: string, userCode: string, } | { "type": "chatgpt", loginId: string, authUrl: string, } | { "type": "other" };

export type Usage = { 
/**
 * The shorter window (five hours on ChatGPT plans), when reported.
 */
primary: UsageWindow | null, 
/**
 * The longer window (a week), when reported.
 */
secondary: UsageWindow | null, 
/**
 * `plus`, `pro`, … as Codex names it.
 */
planType: string | null, 
/**
 * Bought credits, when the plan has them.
 */
credits: Credits | null, 
/**
 * The limit is reached: turns fail until a window resets.
 */
limitReached: boolean, 
/**
 * Why there are no figures (an API key has no plan limits to report;
 * Codex could not reach its backend), in words; `null` when there are.
 */
unavailable: string | null, 
/**
 * When Perch last heard it from Codex (milliseconds since 1970).
 */
updatedAt: number, };

export type UsageWindow = { 
/**
 * 0–100.
 */
usedPercent: number, 
/**
 * How long the window is, in minutes.
 */
windowMinutes: number | null, 
/**
 * When it resets (milliseconds since 1970).
 */
resetsAt: number | null, };

export type Credits = { hasCredits: boolean, unlimited: boolean, 
/**
 * As the backend writes it (a decimal number).
 */
balance: string | null, };

export type Attachment = { 
/**
 * 32 hexadecimal digits, from the image's content.
 */
id: string, 
/**
 * One of [`ATTACHMENT_TYPES`].
 */
mime: string, size: number, };

export type FileMatch = { 
/**
 * Relative to the session's working folder.
 */
path: string, fileName: string, 
/**
 * Characters of `path` that matched, for highlighting.
 */
indices: Array<number>, };

export type FileQuery = { 
/**
 * What the person typed after `@` (at most 200 characters; empty
 * answers nothing).
 */
q: string, 
/**
 * At most this many matches (1–50, default 20).
 */
limit?: number, };

export type Review = { 
/**
 * The session's working folder: paths are relative to it.
 */
cwd: string, 
/**
 * What the diffs compare with.
 */
base: ReviewBase, 
/**
 * The files, by path.
 */
files: Array<ReviewFile>, };

export type ReviewBase = { "kind": "git", commit: string, 
/**
 * The first line of its message.
 */
summary: string, } | { "kind": "session", 
/**
 * Why there is no git base, in words.
 */
reason: string, };

export type ReviewFile = { 
/**
 * Relative to the session's working folder (absolute when outside it).
 */
path: string, status: ReviewStatus, 
/**
 * A unified diff against the base (empty when the file is as it was).
 */
diff: string, additions: number, deletions: number, 
/**
 * It is inside the session's working folder: revert and "open in
 * editor" are offered only then.
 */
inside: boolean, };

export type ReviewStatus = "added" | "modified" | "deleted" | "unchanged" | "binary";

export type Revert = { 
/**
 * As the review names it.
 */
path: string, 
/**
 * Only this hunk (0 is the first `@@` of the file's review diff);
 * the whole file without one.
 */
hunk?: number, };

export type OpenFile = { path: string, 
/**
 * The line to show (1-based), where the editor command takes one.
 */
line?: number, };

export type Opened = { 
/**
 * `editor` (the configured `[review] editor` command) or `desktop`
 * (the desktop's default application for the file).
 */
with: string, };

export type AgentChange = { id: number, 
/**
 * The Perch tool the agent called (`memory_add`, `send_message`, …).
 */
tool: string, 
/**
 * Its arguments, as the agent gave them.
 */
arguments: Record<string, unknown>, 
/**
 * One line for a person: what it does.
 */
summary: string, provenance: Provenance, status: ChangeStatus, 
/**
 * What the tool answered once it ran (the memory, the plan, …).
 */
result: unknown, 
/**
 * Why it failed, when it did.
 */
error: string | null, createdAt: number, 
/**
 * When it ran or was discarded.
 */
decidedAt: number | null, };

export type ChangeStatus = "pending" | "applied" | "discarded" | "failed";

export type Provenance = { kind: ProvenanceKind, 
/**
 * The session whose turn made it.
 */
sessionId: string | null, 
/**
 * For a peer-driven turn: who wrote the messages it answers.
 */
senders: Array<PeerSender>, };

export type ProvenanceKind = "session" | "peerTurn" | "untied";

export type PeerSender = { id: string, authenticated: boolean, };

export type ChangeQuery = { 
/**
 * Only this status; every status when absent.
 */
status: ChangeStatus | null, 
/**
 * At most this many, newest first (default 100; more than 500 reads as 500).
 */
limit: number | null, };

export type CodexState = "starting" | "ready" | "degraded" | "restarting" | "failed" | "stopped" | "asleep";

export type CodexStatus = { state: CodexState, 
/**
 * Why it is degraded, failed or restarting.
 */
detail: string | null, 
/**
 * The version the child reported.
 */
version: string | null, 
/**
 * The version Perch was tested with.
 */
pinnedVersion: string, restarts: number, pid: number | null, 
/**
 * The binary Perch starts.
 */
bin: string, };

export type ActiveTurn = { sessionId: string, turnId: string, 
/**
 * No event for longer than the stall timeout.
 */
stalled: boolean, startedAt: number, };

export type Status = { 
/**
 * Perch's version.
 */
version: string, codex: CodexStatus, activeTurns: Array<ActiveTurn>, pendingApprovals: number, approvalPolicy: ApprovalPolicy, model: string | null, dataDir: string, 
/**
 * Things a person should fix (secrets outside the keyring, ...).
 */
warnings: Array<string>, 
/**
 * Whom Codex is signed in as, as Perch last read it (`null` until
 * Codex first answered); no Codex request is made for it.
 */
account: AccountState | null, };

export type ModelInfo = { id: string, displayName: string, 
/**
 * The reasoning efforts it takes.
 */
efforts: Array<string>, defaultEffort: string | null, isDefault: boolean, };

export type Diagnostics = { text: string, };

export type ApprovalPolicy = "open" | "guarded" | "read-only";

export type SecretBackend = "keyring" | "file";

export type Settings = { codex: CodexSettings, 
/**
 * A custom OpenAI-compatible model provider.
 */
provider: ProviderSettings | null, 
/**
 * An API key for the provider is stored (never sent to clients).
 */
providerKeySet: boolean, 
/**
 * The relay token is in the secret store (used from the next start).
 */
relayTokenSet: boolean, notifications: NotificationSettings, memory: MemorySettings, autostart: AutostartState, secrets: SecretsState, paths: Paths, 
/**
 * Codex runs with other bin/provider settings than these; restarting
 * it (`POST /api/codex/restart`) applies them.
 */
restartRequired: boolean, };

export type CodexSettings = { bin: string | null, approvalPolicy: ApprovalPolicy, model: string | null, effort: string | null, 
/**
 * The working directory of new sessions.
 */
cwd: string | null, };

export type ProviderSettings = { 
/**
 * The provider id Codex knows it by (default `custom`).
 */
id: string, name: string | null, 
/**
 * e.g. `http://127.0.0.1:11434/v1`; Codex posts to `{baseUrl}/responses`.
 */
baseUrl: string, 
/**
 * The environment variable Codex reads the key from.
 */
envKey: string | null, 
/**
 * `responses` (the default).
 */
wireApi: string, };

export type NotificationSettings = { 
/**
 * Do not disturb: no notification but approvals (when allowed).
 */
dnd: boolean, dndAllowsApprovals: boolean, approvals: boolean, turnFinished: boolean, codexRestarts: boolean, errors: boolean, peerMessages: boolean, 
/**
 * Peer agents whose messages raise no notification.
 */
mutedAgents: Array<string>, 
/**
 * Peer channels whose messages raise no notification.
 */
mutedChannels: Array<string>, 
/**
 * A notification when a wakeup's turn finishes.
 */
wakeups: boolean, };

export type MemorySettings = { 
/**
 * Relevant memories and open plan items go into each turn.
 */
context: boolean, 
/**
 * The most that context may take, in tokens.
 */
contextTokens: number, 
/**
 * Completed turns are archived into memory by themselves.
 */
autoArchive: boolean, embeddingsUrl: string | null, embeddingsModel: string | null, };

export type AutostartState = { supported: boolean, enabled: boolean, error: string | null, };

export type SecretsState = { backend: SecretBackend, 
/**
 * Why secrets are not in the OS keyring.
 */
warning: string | null, };

export type Paths = { data: string, config: string | null, logs: string | null, codexHome: string | null, };

export type SettingsPatch = { codex?: CodexPatch, 
/**
 * `null` removes the custom provider.
 */
provider?: ProviderSettings | null, notifications?: NotificationsPatch, memory?: MemorySettingsPatch, autostart?: boolean, };

export type CodexPatch = { 
/**
 * The Codex binary; `null` finds it again.
 */
bin?: string | null, approvalPolicy?: ApprovalPolicy, model?: string | null, effort?: string | null, cwd?: string | null, };

export type NotificationsPatch = { dnd?: boolean, dndAllowsApprovals?: boolean, approvals?: boolean, turnFinished?: boolean, codexRestarts?: boolean, errors?: boolean, peerMessages?: boolean, mutedAgents?: Array<string>, mutedChannels?: Array<string>, wakeups?: boolean, };

export type MemorySettingsPatch = { context?: boolean, contextTokens?: number, autoArchive?: boolean, 
/**
 * `null` turns embeddings off.
 */
embeddingsUrl?: string | null, embeddingsModel?: string | null, };

export type ProviderKey = { key: string, };

export type ProviderCheck = { 
/**
 * Its API base, e.g. `http://127.0.0.1:11434/v1`.
 */
baseUrl: string, 
/**
 * A key, when the server asks for one.
 */
apiKey: string | null, };

export type ProviderChecked = { 
/**
 * The models it lists (at most 200).
 */
models: Array<string>, };

export type RelayToken = { token: string, };

export type ApprovalKind = "command" | "fileChange" | "mcpElicitation";

export type Decision = "accept" | "acceptForSession" | "decline" | "cancel";

export type ApprovalStatus = "pending" | "accept" | "acceptForSession" | "decline" | "cancel" | "expired";

export type Approval = { id: string, sessionId: string, turnId: string | null, itemId: string | null, kind: ApprovalKind, 
/**
 * One line: the command, the files, the question.
 */
title: string, detail: string | null, status: ApprovalStatus, createdAt: number, answeredAt: number | null, 
/**
 * Who answered: "person", "timeout", "shutdown", "codex-restart".
 */
answeredBy: string | null, 
/**
 * What in a command is destructive or reaches past the session's
 * folder, one phrase each ("force-pushes, rewriting the remote's
 * history (git push --force)"); empty when nothing is. Words for the
 * person, not a guard.
 */
dangers: Array<string>, };

export type ApprovalFilter = "pending" | "all";

export type ApprovalQuery = { status?: ApprovalFilter, 
/**
 * Only this session's approvals, every status, oldest first (what a
 * session's history shows after a reload).
 */
sessionId?: string, };

export type Answer = { decision: Decision, 
/**
 * With `decline` only: why, for the model. Codex's answer has no room
 * for it, so Perch sends it to the turn as the person's next words
 * (a steer while the turn runs), at most 2000 characters.
 */
reason?: string, };

export type TokenUsage = { totalTokens: number, inputTokens: number, outputTokens: number, lastTurnTokens: number, contextWindow: number | null, };

export type Session = { 
/**
 * The Codex thread id.
 */
id: string, name: string | null, preview: string, pinned: boolean, archived: boolean, createdAt: number, lastActivityAt: number, model: string | null, effort: string | null, cwd: string | null, activeTurnId: string | null, tokenUsage: TokenUsage | null, };

export type SessionQuery = { 
/**
 * Archived sessions instead of the others.
 */
archived?: boolean, 
/**
 * Archived sessions as well as the others ("Show archived"); wins
 * over `archived`.
 */
includeArchived?: boolean, 
/**
 * Only sessions whose working folder is this project's (or in it).
 */
project?: string, 
/**
 * Only sessions whose name or preview contain this.
 */
q?: string, };

export type NewSession = { name?: string, model?: string, effort?: string, cwd?: string, };

export type SessionPatch = { name?: string, pinned?: boolean, archived?: boolean, model?: string, effort?: string, };

export type UserText = { text: string, 
/**
 * Images kept with `POST /api/attachments`, by id (at most 10), sent
 * with the text.
 */
attachments?: Array<string>, };

export type Resend = { turnId: string, text: string, 
/**
 * Images to send with it, as for a message.
 */
attachments?: Array<string>, };

export type ForkFrom = { lastTurnId?: string, };

export type SendMode = "start" | "steer";

export type Sent = { 
/**
 * The session the message went to: the one addressed, or its
 * replacement when it had to move to a new thread (`session.replaced`).
 */
sessionId: string, turnId: string, mode: SendMode, };

export type Interrupting = { turnId: string, };

export type Compacting = Record<symbol, never>;

export type TurnStatus = "inProgress" | "completed" | "interrupted" | "failed";

export type Item = { "type": "userMessage", id: string, content: Array<UserInput>, } | { "type": "agentMessage", id: string, text: string, 
/**
 * `commentary` (mid-turn narration), `partial_answer` or
 * `final_answer`, when the model says.
 */
phase: string | null, } | { "type": "reasoning", id: string, summary: Array<string>, content: Array<string>, } | { "type": "commandExecution", id: string, command: string, cwd: string, status: ItemStatus, 
/**
 * stdout and stderr together, as far as they went.
 */
aggregatedOutput: string | null, exitCode: number | null, durationMs: number | null, } | { "type": "fileChange", id: string, changes: Array<FileChange>, status: ItemStatus, } | { "type": "mcpToolCall", id: string, server: string, tool: string, status: ItemStatus, 
/**
 * The tool's arguments: whatever JSON the tool takes.
 */
arguments: unknown, 
/**
 * The tool's result (`content`, `structuredContent`): whatever JSON
 * the tool answers.
 */
result: unknown, error: ToolError | null, durationMs: number | null, } | { "type": "webSearch", id: string, query: string, } | { "type": "contextCompaction", id: string, } | { "type": "other", id: string, codexType: string, data: Record<string, unknown>, };

export type UserInput = { "type": "text", text: string, } | { "type": "image", url: string | null, } | { "type": "localImage", path: string, } | { "type": "other" };

export type ItemStatus = "inProgress" | "completed" | "failed" | "declined" | "unknown";

export type FileChange = { path: string, kind: ChangeKind, 
/**
 * A unified diff (for an added file, its content).
 */
diff: string, };

export type ChangeKind = { "type": "add" } | { "type": "delete" } | { "type": "update", 
/**
 * Where the file moves to, if it does.
 */
movePath: string | null, } | { "type": "other" };

export type ToolError = { message: string, };

export type HistoryTurn = { id: string, status: TurnStatus, error: string | null, 
/**
 * The turn's items, in order.
 */
items: Array<Item>, };

export type AgentStatus = "online" | "busy" | "idle" | "away" | "offline";

export type Agent = { id: string, name: string | null, label: string | null, machine: string | null, rig: string | null, tags: Array<string>, capabilities: Array<string>, channels: Array<string>, status: AgentStatus, ready: boolean, meta: Record<string, unknown>, instanceId: string | null, epoch: number, 
/**
 * The id holds a key: every call as it (re-registering, heartbeats,
 * messages from it) proved the key. `false`: anyone may speak as it.
 */
authenticated: boolean, registeredAt: number, lastSeen: number, };

export type Message = { id: number, from: string, to: string, channel: string | null, subject: string | null, body: string, replyTo: number | null, threadId: number, claimable: boolean, claimedBy: string | null, claimedAt: number | null, claimExpiresAt: number | null, type: string | null, meta: Record<string, unknown>, urgent: boolean, 
/**
 * The sender proved the key of its `from` id. Not a signature: the
 * relay vouches for it, nothing end to end.
 */
authenticated: boolean, createdAt: number, readBy: Array<string>, };

export type Pair = { id: string, from: string, to: string, objective: string | null, status: PairStatus, createdAt: number, updatedAt: number, endedBy: string | null, };

export type PairStatus = "pending" | "active" | "rejected" | "ended";

export type Task = { id: number, source: string, type: string, severity: string | null, dedupeKey: string | null, title: string, body: string | null, target: string, channel: string | null, externalUrl: string | null, metadata: Record<string, unknown>, status: TaskStatus, claimedBy: string | null, result: string | null, progress: string | null, occurrenceCount: number, messageId: number | null, createdAt: number, updatedAt: number, lastSeenAt: number, };

export type TaskStatus = "open" | "claimed" | "in_progress" | "blocked" | "done" | "failed" | "cancelled";

export type SendMessage = { 
/**
 * An agent id, `tag:…`, `cap:…`, `label:…` or `broadcast`.
 */
to: string, body: string, subject?: string, channel?: string, replyTo?: number, 
/**
 * Optional on the wire (false when absent).
 */
urgent?: boolean, 
/**
 * Optional on the wire (false when absent).
 */
claimable?: boolean, };

export type ReadMarks = { ids: Array<number>, };

export type Unread = { unread: number, };

export type DeliveryState = "idle" | "delivering" | "retrying" | "failed";

export type DeliveryStatus = { 
/**
 * Messages waiting for a turn.
 */
queued: number, state: DeliveryState, attempt: number, 
/**
 * Why the last delivery failed, while retrying or failed.
 */
error: string | null, };

export type PeerLink = { 
/**
 * Always true here.
 */
enabled: true, relayUrl: string, 
/**
 * The relay runs inside this Perch.
 */
embedded: boolean, connected: boolean, 
/**
 * Perch's agent on the relay.
 */
agentId: string, 
/**
 * The person using Perch: sends and receives as this id.
 */
personId: string, label: string | null, tags: Array<string>, capabilities: Array<string>, channels: Array<string>, 
/**
 * The Codex session peer messages are delivered to.
 */
sessionId: string | null, 
/**
 * Messages to the person not read yet.
 */
unread: number, lastError: string | null, delivery: DeliveryStatus, };

export type PeerOff = { 
/**
 * Always false here.
 */
enabled: false, 
/**
 * Why, when it is not the person's choice (the relay's port is taken
 * by another program), with what to do.
 */
reason?: string, };

export type PeerStatus = PeerLink | PeerOff;

export type PeerMessage = { 
/**
 * It reaches the person, who has not read it.
 */
unread: boolean, id: number, from: string, to: string, channel: string | null, subject: string | null, body: string, replyTo: number | null, threadId: number, claimable: boolean, claimedBy: string | null, claimedAt: number | null, claimExpiresAt: number | null, type: string | null, meta: Record<string, unknown>, urgent: boolean, 
/**
 * The sender proved the key of its `from` id. Not a signature: the
 * relay vouches for it, nothing end to end.
 */
authenticated: boolean, createdAt: number, readBy: Array<string>, 
/**
 * Subject and body travelled encrypted to the recipients' device keys;
 * the relay stored ciphertext only.
 */
encrypted: boolean, 
/**
 * Its signature checks against a device key the sender's card lists
 * (in the clear or encrypted). False: unverified.
 */
signed: boolean, 
/**
 * Why its subject and body are not shown, and it was not given to
 * the agent: changed or forged, not decryptable here, or encrypted
 * for others.
 */
withheld: string | null, 
/**
 * It failed its checks (changed, forged, broken): not merely meant
 * for others. The person is told.
 */
tampered: boolean, 
/**
 * The sender's device key changed since the person pinned it (see
 * `GET /api/peer/keys`): the fingerprint now on the card.
 */
keyChanged?: string, };

export type Seal = { 
/**
 * Subject and body travelled encrypted to the recipients' device keys;
 * the relay stored ciphertext only.
 */
encrypted: boolean, 
/**
 * Its signature checks against a device key the sender's card lists
 * (in the clear or encrypted). False: unverified.
 */
signed: boolean, 
/**
 * Why its subject and body are not shown, and it was not given to
 * the agent: changed or forged, not decryptable here, or encrypted
 * for others.
 */
withheld: string | null, 
/**
 * It failed its checks (changed, forged, broken): not merely meant
 * for others. The person is told.
 */
tampered: boolean, 
/**
 * The sender's device key changed since the person pinned it (see
 * `GET /api/peer/keys`): the fingerprint now on the card.
 */
keyChanged?: string, };

export type PeersKeys = { peers: Array<PeerKeys>, };

export type PersonDevices = { personId: string, devices: Array<PersonDevice>, };

export type PersonDevice = { 
/**
 * Its name on the relay: the id of its end-to-end device key.
 */
device: string, createdAt: number, 
/**
 * This computer.
 */
thisDevice: boolean, 
/**
 * Its end-to-end key as the person's card lists it (absent: the card
 * lists no key for it yet).
 */
fingerprint: string | null, };

export type DeviceLinkCode = { personId: string, code: string, expiresAt: number, };

export type JoinDevice = { 
/**
 * The code `POST /api/peer/devices/link` gave on the other computer.
 */
code: string, };

export type PeerKeys = { id: string, 
/**
 * One of this Perch's ids (its agent, the person).
 */
ours: boolean, 
/**
 * The person pinned this id's devices.
 */
pinned: boolean, 
/**
 * The devices its card lists and verify; empty: it sends and receives
 * in the clear, unverified.
 */
devices: Array<KeyDevice>, 
/**
 * Fingerprints the person pinned that its card no longer lists.
 */
missing: Array<string>, };

export type KeyDevice = { device: string, 
/**
 * What to compare with the peer another way (ten groups of hex).
 */
fingerprint: string, created: number, 
/**
 * This Perch's own key for that id.
 */
thisDevice: boolean, standing: KeyStanding, };

export type KeyStanding = "unpinned" | "pinned" | "rotated" | "newDevice" | "changed";

export type PinKeys = { 
/**
 * The peer's relay id.
 */
id: string, };

export type InboxQuery = { 
/**
 * Only this channel.
 */
channel?: string, 
/**
 * Only messages from or to this agent.
 */
agent?: string, 
/**
 * Older than this message id (for paging back).
 */
beforeId?: number, 
/**
 * At most this many, 1 to 500 (default 200; more is 500).
 */
limit?: number, };

export type MemorySource = "session" | "peer" | "person";

export type Memory = { id: number, text: string, 
/**
 * Lowercase, without `#`.
 */
tags: Array<string>, source: MemorySource, 
/**
 * The session it came from, when known.
 */
sourceRef: string | null, 
/**
 * For `source: peer`: who wrote the peer messages of the turn that
 * asked for it (the person accepted it).
 */
senders: Array<string>, 
/**
 * 0 to 1.
 */
importance: number, 
/**
 * Milliseconds since 1970, like every `…At` field.
 */
createdAt: number, updatedAt: number, 
/**
 * When the agent last found it in a search.
 */
lastUsedAt: number | null, 
/**
 * Only in search results: higher is better.
 */
score?: number, };

export type NewMemory = { text: string, 
/**
 * Letters, digits and `-_:./`; a leading `#` is dropped, case is lowered.
 */
tags?: Array<string>, 
/**
 * 0 to 1 (0.5 when absent).
 */
importance?: number, };

export type BulkDelete = { 
/**
 * At most 10 000.
 */
ids: Array<number>, };

export type Deleted = { deleted: number, };

export type MemoryPatch = { text?: string, 
/**
 * The new tags, replacing the old ones.
 */
tags?: Array<string>, 
/**
 * 0 to 1.
 */
importance?: number, };

export type MemoryAction = "added" | "updated" | "deleted" | "imported" | "embedded";

export type MemoryFormat = "jsonl" | "markdown";

export type ImportReport = { 
/**
 * Memories added.
 */
imported: number, 
/**
 * Entries that could not be imported.
 */
skipped: number, 
/**
 * Why lines were skipped (the first few).
 */
errors: Array<string>, };

export type GitState = { 
/**
 * The checked-out branch; `null` when HEAD is detached.
 */
branch: string | null, 
/**
 * Files changed, added or untracked that are not committed.
 */
changedFiles: number, };

export type Project = { id: number, 
/**
 * Absolute, symbolic links resolved.
 */
path: string, 
/**
 * The folder's name.
 */
name: string, 
/**
 * It is still a folder Perch can read (it may have been moved).
 */
exists: boolean, 
/**
 * `null` when it is not in a git repository (or git is not installed).
 */
git: GitState | null, 
/**
 * Sessions whose working folder is it or a folder in it.
 */
sessions: number, 
/**
 * Milliseconds since 1970.
 */
addedAt: number, };

export type NewProject = { 
/**
 * An absolute path, or one starting with `~/`.
 */
path: string, };

export type SearchQuery = { 
/**
 * The words sought (each also as the start of a longer word), at most
 * 500 characters; every word must occur.
 */
q: string, 
/**
 * At most this many results (1–100, default 30).
 */
limit?: number, };

export type SearchTarget = { "kind": "session", sessionId: string, } | { "kind": "message", sessionId: string, turnId: string, itemId: string, 
/**
 * `user` or `assistant`.
 */
role: string, } | { "kind": "memory", memoryId: number, } | { "kind": "plan", planId: number, itemId: number | null, } | { "kind": "inbox", messageId: number, threadId: number, };

export type LineSpan = { text: string, matched: boolean, };

export type SearchHit = { target: SearchTarget, 
/**
 * What it belongs to: the session's name, "Memory", the plan's name,
 * the sender of an Inbox message.
 */
title: string, 
/**
 * The line that matches best, cut around the match, in spans.
 */
line: Array<LineSpan>, 
/**
 * When it was written or last changed (milliseconds since 1970).
 */
at: number, 
/**
 * It belongs to an archived session.
 */
archived: boolean, };

export type SearchResults = { hits: Array<SearchHit>, partial: Array<string>, };

export type PlanItem = { id: number, text: string, done: boolean, 
/**
 * 0-based index in the plan (positions are 0..n without gaps).
 */
position: number, 
/**
 * Milliseconds since 1970.
 */
updatedAt: number, 
/**
 * When it was checked (milliseconds since 1970); null while open.
 */
doneAt: number | null, };

export type Plan = { id: number, name: string, 
/**
 * In their order (by `position`).
 */
items: Array<PlanItem>, 
/**
 * Milliseconds since 1970.
 */
createdAt: number, 
/**
 * Milliseconds since 1970; any change to the plan or its items.
 */
updatedAt: number, };

export type NewPlan = { 
/**
 * 1 to 80 characters on one line, unique (case-insensitive).
 */
name: string, 
/**
 * The items' texts, in order.
 */
items?: Array<string>, };

export type NewPlanItem = { text: string, 
/**
 * The 0-based index to insert at; the end when absent.
 */
position?: number, };

export type PlanItemPatch = { text?: string, 
/**
 * Checks (true) or unchecks (false) the item.
 */
done?: boolean, 
/**
 * The new 0-based index; the other items shift.
 */
position?: number, };

export type PlanRename = { name: string, };

export type PlanClear = { 
/**
 * Only the checked items (default: all).
 */
doneOnly: boolean, };

export type Schedule = { "kind": "at", 
/**
 * Milliseconds since 1970.
 */
at: number, } | { "kind": "every", 
/**
 * The period in milliseconds (at least 10 seconds).
 */
everyMs: number, 
/**
 * The first time (milliseconds since 1970); the next ones are whole
 * periods after it.
 */
anchor: number, } | { "kind": "cron", expr: string, 
/**
 * An IANA zone name (`Europe/Paris`).
 */
tz: string, };

export type MillisOrText = number | string;

export type NewSchedule = { "kind": "at", 
/**
 * Milliseconds since 1970, or an RFC 3339 time
 * (`2026-11-22T09:00:00+01:00`).
 */
at: MillisOrText, } | { "kind": "in", 
/**
 * `90s`, `10m`, `2h`, `1d`, `1h30m`, or a bare number of seconds.
 */
delay: string, } | { "kind": "every", 
/**
 * Milliseconds, or a duration like `15m` (at least 10 seconds).
 */
every: MillisOrText, 
/**
 * The first time (milliseconds since 1970); one period from now
 * when absent.
 */
anchor?: number, } | { "kind": "cron", expr: string, 
/**
 * An IANA zone name (`Europe/Paris`); the machine's zone when absent.
 */
tz?: string, };

export type Target = { "kind": "session", sessionId: string, } | { "kind": "new", cwd?: string, } | { "kind": "peer" };

export type Misfire = "skip" | "once" | "ask";

export type CreatedBy = "person" | "agent" | "peer";

export type RunStatus = "claimed" | "running" | "completed" | "failed" | "interrupted" | "skipped" | "missed" | "dismissed";

export type WakeupRun = { id: number, wakeupId: number, 
/**
 * The wakeup's label when it ran.
 */
label: string, 
/**
 * The occurrence it is for (milliseconds since 1970).
 */
scheduledAt: number, 
/**
 * When its turn was started; null if it was not (yet).
 */
firedAt: number | null, status: RunStatus, 
/**
 * The session its turn ran in.
 */
sessionId: string | null, turnId: string | null, 
/**
 * The agent's last message or the error, cut short; or why it was
 * skipped.
 */
summary: string | null, 
/**
 * When it reached a final status (milliseconds since 1970).
 */
finishedAt: number | null, };

export type Wakeup = { id: number, label: string, 
/**
 * What the agent is told when it fires.
 */
prompt: string, schedule: Schedule, target: Target, misfire: Misfire, 
/**
 * How late an occurrence may still run normally (ms); later ones
 * follow `misfire`.
 */
graceMs: number, 
/**
 * False while paused.
 */
enabled: boolean, 
/**
 * The person is notified when a run's turn finishes.
 */
notify: boolean, 
/**
 * Milliseconds since 1970; null when finished (a fired `at`) or paused.
 */
nextFireAt: number | null, createdBy: CreatedBy, 
/**
 * Milliseconds since 1970.
 */
createdAt: number, updatedAt: number, 
/**
 * Its latest run, if it has one.
 */
lastRun: WakeupRun | null, };

export type NewWakeup = { 
/**
 * 1 to 20000 characters.
 */
prompt: string, 
/**
 * Up to 80 characters on one line; the prompt's first line when absent.
 */
label?: string, schedule: NewSchedule, 
/**
 * A new session for each run when absent.
 */
target?: Target, 
/**
 * `once` when absent.
 */
misfire?: Misfire, 
/**
 * 0 to 7 days in milliseconds; one hour when absent.
 */
graceMs?: number, 
/**
 * True when absent.
 */
notify?: boolean, };

export type WakeupPatch = { label?: string, prompt?: string, 
/**
 * A new schedule: the next time is counted from now.
 */
schedule?: NewSchedule, target?: Target, misfire?: Misfire, 
/**
 * 0 to 7 days in milliseconds.
 */
graceMs?: number, notify?: boolean, 
/**
 * False pauses, true resumes (from the next time after now; the ones
 * while paused are not owed).
 */
enabled?: boolean, };

export type TurnProblem = { kind: ProblemKind, 
/**
 * Codex's words.
 */
message: string, 
/**
 * Codex tries again by itself.
 */
willRetry: boolean, 
/**
 * The endpoint's HTTP status, when it answered.
 */
httpStatus: number | null, };

export type ProblemKind = "unreachable" | "rateLimited" | "httpError" | "fallback" | "other";

export type Event = { 
/**
 * 1, 2, 3… without gaps; the SSE `id:` (`Last-Event-ID` replays after it).
 */
seq: number, 
/**
 * Unix milliseconds.
 */
at: number, } & ({ "type": "codex.state", state: CodexState, detail: string | null, } | { "type": "session.updated", session: Session, } | { "type": "session.replaced", previousId: string, session: Session, } | { "type": "session.rewound", sessionId: string, turnIds: Array<string>, } | { "type": "turn.started", sessionId: string, turnId: string, } | { "type": "turn.completed", sessionId: string, turnId: string, status: TurnStatus, error: string | null, } | { "type": "turn.stalled", sessionId: string, turnId: string, silentForMs: number, } | { "type": "item.started", sessionId: string, turnId: string, item: Item, } | { "type": "item.completed", sessionId: string, turnId: string, item: Item, } | { "type": "item.delta", sessionId: string, turnId: string, itemId: string, kind: DeltaKind, delta: string, } | { "type": "turn.diff", sessionId: string, turnId: string, diff: string, } | { "type": "tokens.updated", sessionId: string, usage: TokenUsage, } | { "type": "approval.requested", approval: Approval, } | { "type": "approval.resolved", approval: Approval, } | { "type": "warning", sessionId: string | null, message: string, } | { "type": "settings.changed", settings: Settings, } | { "type": "peer.message", message: PeerMessage, toPerson: boolean, toAgent: boolean, } | { "type": "peer.status", status: PeerStatus, } | { "type": "peer.failed", error: string, queued: number, } | { "type": "peer.fenced", id: string, message: string, } | { "type": "turn.problem", sessionId: string, turnId: string | null, problem: TurnProblem, } | { "type": "account.updated", account: AccountState, } | { "type": "account.usage", usage: Usage, } | { "type": "account.login", 
/**
 * The sign-in it ends (`LoginStarted`'s `loginId`): with two
 * windows signing in, each follows its own.
 */
loginId: string | null, success: boolean, error: string | null, } | { "type": "change.pending", change: AgentChange, } | { "type": "change.decided", change: AgentChange, } | { "type": "memory.changed", action: MemoryAction, ids: Array<number>, } | { "type": "plan.changed", planId: number, plan: Plan | null, } | { "type": "wakeup.changed", wakeupId: number, wakeup: Wakeup | null, } | { "type": "wakeup.run", run: WakeupRun, notify: boolean, });

export type EventKind = { "type": "codex.state", state: CodexState, detail: string | null, } | { "type": "session.updated", session: Session, } | { "type": "session.replaced", previousId: string, session: Session, } | { "type": "session.rewound", sessionId: string, turnIds: Array<string>, } | { "type": "turn.started", sessionId: string, turnId: string, } | { "type": "turn.completed", sessionId: string, turnId: string, status: TurnStatus, error: string | null, } | { "type": "turn.stalled", sessionId: string, turnId: string, silentForMs: number, } | { "type": "item.started", sessionId: string, turnId: string, item: Item, } | { "type": "item.completed", sessionId: string, turnId: string, item: Item, } | { "type": "item.delta", sessionId: string, turnId: string, itemId: string, kind: DeltaKind, delta: string, } | { "type": "turn.diff", sessionId: string, turnId: string, diff: string, } | { "type": "tokens.updated", sessionId: string, usage: TokenUsage, } | { "type": "approval.requested", approval: Approval, } | { "type": "approval.resolved", approval: Approval, } | { "type": "warning", sessionId: string | null, message: string, } | { "type": "settings.changed", settings: Settings, } | { "type": "peer.message", message: PeerMessage, toPerson: boolean, toAgent: boolean, } | { "type": "peer.status", status: PeerStatus, } | { "type": "peer.failed", error: string, queued: number, } | { "type": "peer.fenced", id: string, message: string, } | { "type": "turn.problem", sessionId: string, turnId: string | null, problem: TurnProblem, } | { "type": "account.updated", account: AccountState, } | { "type": "account.usage", usage: Usage, } | { "type": "account.login", 
/**
 * The sign-in it ends (`LoginStarted`'s `loginId`): with two
 * windows signing in, each follows its own.
 */
loginId: string | null, success: boolean, error: string | null, } | { "type": "change.pending", change: AgentChange, } | { "type": "change.decided", change: AgentChange, } | { "type": "memory.changed", action: MemoryAction, ids: Array<number>, } | { "type": "plan.changed", planId: number, plan: Plan | null, } | { "type": "wakeup.changed", wakeupId: number, wakeup: Wakeup | null, } | { "type": "wakeup.run", run: WakeupRun, notify: boolean, };

export type DeltaKind = "agentMessage" | "reasoning" | "commandOutput" | "fileChange";
