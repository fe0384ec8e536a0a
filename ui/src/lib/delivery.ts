// Turns Perch starts on the agent's behalf carry framed text as their user
// message: a delivery of peer messages (crates/peer/src/prompt.rs) or a
// wakeup firing (crates/agent/src/wakeups/scheduler.rs). These parse it so
// the chat shows cards instead of the framing. The result is plain text,
// shown as text, never as HTML. Pure, unit-tested in tests/delivery.test.ts.

/** One peer message as a delivery frames it. */
export interface DeliveredPeerMessage {
  /** `direct` when the message was on no channel. */
  channel: string;
  sender: string;
  /** The relay authenticated the sender as the person (`NAME (the person)`). */
  fromPerson: boolean;
  /** The body, continuation lines unindented. */
  text: string;
  messageId: number | null;
  subject: string | null;
  replyTo: number | null;
  /** A group address (`tag:ops`, `broadcast`), when not to the agent itself. */
  to: string | null;
  pair: string | null;
  urgent: boolean;
  claimed: boolean;
  /** The relay did not authenticate the sender: anyone could have written it. */
  unauthenticated: boolean;
  /** It travelled encrypted end to end (the relay stored ciphertext). */
  encrypted: boolean;
  /** Its signature checked against a key the sender's card lists. */
  signed: boolean;
  /** The sender's key changed since the person pinned it. */
  keyChanged: boolean;
}

export interface PeerDelivery {
  /** `[event: …]` lines (reconnects, pairing, …). */
  events: string[];
  messages: DeliveredPeerMessage[];
}

export const PEER_HEADER = '[peer messages:';

const MESSAGE_LINE = /^\[channel: ([^\]]*)\] ([^:]*): ?(.*)$/;
const EVENT_LINE = /^\[event: (.*)\]$/;
const DETAIL_LINE = /^ {2}\((message \d+.*)\)$/;

/** Reads Rust's `{:?}` of a string from `text[at]` (the opening quote): the value and where it ends. */
function rustString(text: string, at: number): { value: string; end: number } | null {
  if (text[at] !== '"') return null;
  let out = '';
  for (let i = at + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '"') return { value: out, end: i + 1 };
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = text[++i];
    if (n === 'n') out += '\n';
    else if (n === 't') out += '\t';
    else if (n === 'r') out += '\r';
    else if (n === '0') out += '\0';
    else if (n === 'u' && text[i + 1] === '{') {
      const close = text.indexOf('}', i);
      if (close === -1) return null;
      const code = parseInt(text.slice(i + 2, close), 16);
      out += Number.isFinite(code) ? String.fromCodePoint(code) : '';
      i = close;
    } else out += n ?? '';
  }
  return null;
}

type Details = Pick<
  DeliveredPeerMessage,
  'messageId' | 'subject' | 'replyTo' | 'to' | 'pair' | 'urgent' | 'claimed' | 'unauthenticated' | 'encrypted' | 'signed' | 'keyChanged'
>;

/** `message 43; subject "Deploy"; reply to 40; pair p1; urgent; unauthenticated sender; end-to-end encrypted; signed`. */
export function parseDetails(inner: string): Details {
  const d: Details = {
    messageId: null,
    subject: null,
    replyTo: null,
    to: null,
    pair: null,
    urgent: false,
    claimed: false,
    unauthenticated: false,
    encrypted: false,
    signed: false,
    keyChanged: false,
  };
  let at = 0;
  while (at < inner.length) {
    const rest = inner.slice(at);
    let used = 0;
    let m: RegExpExecArray | null;
    if ((m = /^message (\d+)/.exec(rest))) {
      d.messageId = Number(m[1]);
      used = m[0].length;
    } else if (rest.startsWith('subject "')) {
      const s = rustString(inner, at + 'subject '.length);
      if (s) {
        d.subject = s.value;
        used = s.end - at;
      }
    } else if ((m = /^reply to (\d+)/.exec(rest))) {
      d.replyTo = Number(m[1]);
      used = m[0].length;
    } else if ((m = /^to ([^;]+)/.exec(rest))) {
      d.to = m[1];
      used = m[0].length;
    } else if ((m = /^pair ([^;]+)/.exec(rest))) {
      d.pair = m[1];
      used = m[0].length;
    } else if (rest.startsWith('urgent')) {
      d.urgent = true;
      used = 'urgent'.length;
    } else if (rest.startsWith('claimed by you')) {
      d.claimed = true;
      used = 'claimed by you'.length;
    } else if (rest.startsWith('unauthenticated sender')) {
      d.unauthenticated = true;
      used = 'unauthenticated sender'.length;
    } else if (rest.startsWith('end-to-end encrypted')) {
      d.encrypted = true;
      used = 'end-to-end encrypted'.length;
    } else if (/^signed(;|$)/.test(rest)) {
      d.signed = true;
      used = 'signed'.length;
    } else if (rest.startsWith("the sender's key changed")) {
      d.keyChanged = true;
      used = "the sender's key changed".length;
    }
    // Then the next `; ` (skipping a part this UI does not know).
    const next = inner.indexOf('; ', at + used);
    if (next === -1) break;
    at = next + 2;
  }
  return d;
}

/**
 * The peer messages of a delivery turn's text, or null when the text is not
 * one. Lines Perch writes start with `[`; a body's continuation lines are
 * indented by two spaces, and its last indented line is the details.
 */
export function parsePeerDelivery(text: string): PeerDelivery | null {
  if (!text.startsWith(PEER_HEADER)) return null;
  const lines = text.split('\n');
  const delivery: PeerDelivery = { events: [], messages: [] };
  let current: { head: RegExpExecArray; body: string[] } | null = null;

  const finish = () => {
    if (!current) return;
    const [, channel, rawSender, first] = current.head;
    const body = current.body;
    // The real details line is the last indented one: a peer can write a
    // line that looks like it, but not after it.
    const detail = body.length > 0 ? DETAIL_LINE.exec(body[body.length - 1]) : null;
    if (detail) body.pop();
    const fromPerson = rawSender.endsWith(' (the person)');
    delivery.messages.push({
      channel,
      sender: fromPerson ? rawSender.slice(0, -' (the person)'.length) : rawSender,
      fromPerson,
      text: [first, ...body.map((l) => l.slice(2))].join('\n'),
      ...parseDetails(detail ? detail[1] : ''),
    });
    current = null;
  };

  // The header is one line; what follows is events and messages.
  for (const line of lines.slice(1)) {
    if (line.startsWith('  ') && current) {
      current.body.push(line);
      continue;
    }
    finish();
    const message = MESSAGE_LINE.exec(line);
    if (message) {
      current = { head: message, body: [] };
      continue;
    }
    const event = EVENT_LINE.exec(line);
    if (event) delivery.events.push(event[1]);
    else if (line.trim()) delivery.events.push(line.trim());
  }
  finish();
  return delivery;
}

/** A wakeup's turn: what fired and the prompt it gave the agent. */
export interface WakeupDelivery {
  wakeupId: number;
  label: string;
  /** As Perch describes it: "every 15 min", "cron 0 9 * * * (Europe/Paris)", "at 2026-…". */
  schedule: string;
  /** RFC 3339 times. */
  scheduledAt: string;
  firedAt: string;
  /** "2 min" when it fired that late. */
  late: string | null;
  /** Made in a turn peers' messages drove: its prompt is not the person's words. */
  fromPeers: boolean;
  prompt: string;
}

const WAKEUP_LINE =
  /^\[event: wakeup #(\d+) "([^"]*)" \((.*)\), scheduled ([^,\]]+), fired ([^,;\]]+)(?:, ([^;\]]+) late)?(;[^\]]*)?\]$/;

/** The wakeup of a wakeup turn's text, or null when the text is not one. */
export function parseWakeupDelivery(text: string): WakeupDelivery | null {
  const newline = text.indexOf('\n');
  const first = newline === -1 ? text : text.slice(0, newline);
  const m = WAKEUP_LINE.exec(first);
  if (!m) return null;
  const fromPeers = m[7] !== undefined;
  let prompt = newline === -1 ? '' : text.slice(newline + 1);
  // A peer-made wakeup's prompt is indented, as a peer message's body.
  if (fromPeers) prompt = prompt.split('\n').map((l) => (l.startsWith('  ') ? l.slice(2) : l)).join('\n');
  return {
    wakeupId: Number(m[1]),
    label: m[2],
    schedule: m[3],
    scheduledAt: m[4],
    firedAt: m[5],
    late: m[6] ?? null,
    fromPeers,
    prompt,
  };
}

/** What a turn's user message is: the person's words, a peer delivery or a wakeup. */
export type UserMessageKind =
  | { kind: 'person' }
  | { kind: 'peers'; delivery: PeerDelivery }
  | { kind: 'wakeup'; wakeup: WakeupDelivery };

export function classifyUserText(text: string): UserMessageKind {
  const delivery = parsePeerDelivery(text);
  if (delivery) return { kind: 'peers', delivery };
  const wakeup = parseWakeupDelivery(text);
  if (wakeup) return { kind: 'wakeup', wakeup };
  return { kind: 'person' };
}
