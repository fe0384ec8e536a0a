// The composer's images and `@` file mentions: what may be attached, sizes in
// words, the attachment id in a sent image's path, and where an `@` mention
// is being typed. Pure functions, unit-tested in tests/attachments.test.ts;
// the components (Composer, AttachmentChips, MentionList, Message) hold the
// state.

import type { UserInput } from './types';

/** The image types `POST /api/attachments` takes. */
export const ATTACHMENT_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;
export type AttachmentType = (typeof ATTACHMENT_TYPES)[number];
/** For a file input's `accept`. */
export const ATTACHMENT_ACCEPT = ATTACHMENT_TYPES.join(',');
/** The largest image the server keeps (20 MB). */
export const MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024;
/** Images per message. */
export const MAX_ATTACHMENTS = 10;

export const TYPE_REFUSED = 'Only PNG, JPEG, GIF and WebP images can be attached.';
export const TOO_MANY = `At most ${MAX_ATTACHMENTS} images can go with one message.`;

/** A size for a person: `512 B`, `3.4 KB`, `23.4 MB` (1 KB = 1024 bytes). */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let n = bytes / 1024;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  // One decimal, without a trailing `.0` (20 MB, not 20.0 MB).
  const shown = n >= 100 ? Math.round(n).toString() : (Math.round(n * 10) / 10).toString();
  return `${shown} ${units[u]}`;
}

/** The image type the first bytes of a file say, or null for anything else. */
export function sniffImageType(bytes: Uint8Array): AttachmentType | null {
  const starts = (sig: number[], at = 0) => sig.every((b, i) => bytes[at + i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (starts([0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts([0x47, 0x49, 0x46, 0x38]) && (bytes[4] === 0x37 || bytes[4] === 0x39) && bytes[5] === 0x61) return 'image/gif';
  if (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return 'image/webp';
  return null;
}

export function isAttachmentType(mime: string): mime is AttachmentType {
  return (ATTACHMENT_TYPES as readonly string[]).includes(mime.toLowerCase());
}

/**
 * The type to upload a file as: what its bytes say, else what the browser
 * says, when that is one of the four; null: it cannot be attached.
 */
export function attachmentType(declared: string, firstBytes: Uint8Array | null): AttachmentType | null {
  const sniffed = firstBytes ? sniffImageType(firstBytes) : null;
  if (sniffed) return sniffed;
  // Bytes that are no image of ours (the server checks them too).
  if (firstBytes && firstBytes.length >= 12) return null;
  const d = declared.toLowerCase();
  return isAttachmentType(d) ? d : null;
}

/** An image in the composer, before it is sent. */
export interface PendingAttachment {
  /** Local key (the chip's). */
  key: string;
  /** The file's bytes, kept for Retry. */
  file: Blob;
  name: string;
  size: number;
  /** What it uploads as; null: not an image that can be attached. */
  mime: AttachmentType | null;
  /** An object URL of the local file for the thumbnail (revoked when the chip goes). */
  preview: string | null;
  state: 'uploading' | 'ready' | 'failed';
  /** The server's id once uploaded. */
  id: string | null;
  /** Why it failed, in words. */
  error: string | null;
  /** Whether uploading again may help (not for a refused type or size). */
  canRetry: boolean;
}

/** Why this image cannot be attached (checked before it is uploaded), or null. */
export function checkAttachment(size: number, type: AttachmentType | null): string | null {
  if (type === null) return TYPE_REFUSED;
  if (size > MAX_ATTACHMENT_BYTES) {
    return `This image is ${formatSize(size)}; the limit is ${formatSize(MAX_ATTACHMENT_BYTES)}.`;
  }
  return null;
}

/** The last part of a path (either separator). */
export function fileNameOf(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

const ATTACHMENT_ID = /^[0-9a-f]{32}$/i;

/**
 * The attachment id of an image Perch keeps (`<data>/attachments/<id>.<ext>`),
 * or null for any other path (a file of the person's).
 */
export function attachmentIdFromPath(path: string): string | null {
  const parts = path.split(/[\\/]/);
  if (parts.length < 2 || parts[parts.length - 2] !== 'attachments') return null;
  const name = parts[parts.length - 1];
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name;
  return ATTACHMENT_ID.test(stem) ? stem.toLowerCase() : null;
}

/** Where an attachment's bytes are served (usable as an `<img src>`). */
export function attachmentUrl(id: string): string {
  return `/api/attachments/${encodeURIComponent(id)}`;
}

/**
 * The `localImage` part the UI shows for a sent attachment until Codex
 * reports the message (`attachments/<id>`: only the id matters, see
 * `attachmentIdFromPath`).
 */
export function localImagePart(id: string): UserInput {
  return { type: 'localImage', path: `attachments/${id}` };
}

/** An image in a sent message, as shown. */
export interface ShownImage {
  /** The attachment id (Perch keeps the file), or null: a file of the person's. */
  id: string | null;
  /** The file name shown: the attached file's when this page knows it, else `Image 2` (its place among the message's images). */
  name: string;
  /** The `<img>`'s text alternative. */
  alt: string;
  /** Where to load it from (attachments only). */
  src: string | null;
}

/** The images of a user message's content, in order. */
export function messageImages(content: UserInput[]): ShownImage[] {
  const out: ShownImage[] = [];
  for (const part of content) {
    const n = out.length + 1;
    if (part.type === 'localImage') {
      const id = attachmentIdFromPath(part.path);
      // Perch's copy is named by its id, which says nothing to a person.
      const known = id ? rememberedNames.get(id) : fileNameOf(part.path);
      const name = known ?? `Image ${n}`;
      out.push({ id, name, alt: known ? `Attached image ${known}` : `Attached image ${n}`, src: id ? attachmentUrl(id) : null });
    } else if (part.type === 'image' && part.url) {
      // Only `data:` images are shown inline; a remote address is not loaded.
      const inline = part.url.startsWith('data:image/');
      out.push({ id: null, name: inline ? `Image ${n}` : part.url, alt: `Attached image ${n}`, src: inline ? part.url : null });
    }
  }
  return out;
}

/** The attachment ids of a user message (what Retry and Edit send again). */
export function messageAttachmentIds(content: UserInput[]): string[] {
  const ids: string[] = [];
  for (const part of content) {
    if (part.type !== 'localImage') continue;
    const id = attachmentIdFromPath(part.path);
    if (id && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

// The names of the files the person attached in this page, by attachment id:
// the history only knows `<id>.<ext>`. Not kept across a reload.
const rememberedNames = new Map<string, string>();
export function rememberAttachmentName(id: string, name: string): void {
  if (name) rememberedNames.set(id, name);
}

// ---------------------------------------------------------------------------
// `@` mentions

/** An `@` token being typed: `text.slice(start, end)` is `@query…`. */
export interface MentionAt {
  /** Index of the `@`. */
  start: number;
  /** End of the token (the first whitespace after the cursor, or the text's end). */
  end: number;
  /** What was typed between the `@` and the cursor. */
  query: string;
}

/**
 * The `@` mention the cursor is in: an `@` at the start of the text or after
 * whitespace, followed (up to the cursor) by no whitespace. Null otherwise
 * (an e-mail address such as a@b.c is no mention).
 */
export function mentionAt(text: string, cursor: number): MentionAt | null {
  if (cursor < 1 || cursor > text.length) return null;
  let i = cursor - 1;
  while (i >= 0 && !/\s/.test(text[i]) && text[i] !== '@') i--;
  if (i < 0 || text[i] !== '@') return null;
  if (i > 0 && !/\s/.test(text[i - 1])) return null;
  let end = cursor;
  while (end < text.length && !/\s/.test(text[end])) end++;
  return { start: i, end, query: text.slice(i + 1, cursor) };
}

/** How a path is written after `@`: in double quotes when it has whitespace. */
export function mentionToken(path: string): string {
  return /\s/.test(path) && !path.includes('"') ? `@"${path}"` : `@${path}`;
}

/**
 * The text with the mention being typed replaced by `@path ` and where the
 * cursor goes (after the space).
 */
export function insertMention(text: string, at: MentionAt, path: string): { text: string; cursor: number } {
  const token = mentionToken(path);
  const before = text.slice(0, at.start);
  const after = text.slice(at.end);
  const space = /^\s/.test(after) ? '' : ' ';
  const next = before + token + space + after;
  return { text: next, cursor: before.length + token.length + 1 };
}

/** Whether `@path` is (still) in the text as a token of its own. */
export function hasMention(text: string, path: string): boolean {
  return mentionRange(text, path) !== null;
}

function mentionRange(text: string, path: string): [number, number] | null {
  const token = mentionToken(path);
  let from = 0;
  for (;;) {
    const i = text.indexOf(token, from);
    if (i === -1) return null;
    const j = i + token.length;
    const startOk = i === 0 || /\s/.test(text[i - 1]);
    const endOk = j === text.length || /[\s,.;:!?)]/.test(text[j]);
    if (startOk && endOk) return [i, j];
    from = i + 1;
  }
}

/** The text without its (first) `@path` token and one space after it. */
export function removeMention(text: string, path: string): string {
  const r = mentionRange(text, path);
  if (!r) return text;
  let [i, j] = r;
  if (text[j] === ' ') j++;
  else if (i > 0 && text[i - 1] === ' ') i--;
  return text.slice(0, i) + text.slice(j);
}

/** A piece of a sent message's text: plain, or an `@path` file mention. */
export interface TextSegment {
  text: string;
  /** The mentioned path (without `@` and quotes), for a mention. */
  path: string | null;
}

/**
 * The text cut into plain runs and `@path` mentions: an `@` at a word start
 * followed by something that looks like a path (a `/`, or a name with an
 * extension), or by a quoted path. Trailing punctuation is not part of it.
 */
export function mentionSegments(text: string): TextSegment[] {
  const out: TextSegment[] = [];
  const re = /(^|\s)@("([^"\n]+)"|[^\s]+)/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    let token = m[2];
    let path = m[3] ?? null;
    if (path === null) {
      token = token.replace(/[,.;:!?)\]'"]+$/, '');
      path = token;
    }
    const looksLikePath = m[3] !== undefined || path.includes('/') || /\.[A-Za-z0-9]{1,10}$/.test(path);
    if (!looksLikePath || !path) continue;
    const start = m.index + m[1].length;
    if (start > last) out.push({ text: text.slice(last, start), path: null });
    out.push({ text: '@' + token, path });
    last = start + 1 + token.length;
    re.lastIndex = last;
  }
  if (last < text.length) out.push({ text: text.slice(last), path: null });
  return out;
}

/** A path cut into runs of matched and unmatched characters, and its folder part. */
export interface Run {
  text: string;
  hit: boolean;
  dir: boolean;
}

/** `indices` count characters (code points) of `path`, as Codex gives them. */
export function highlightRuns(path: string, indices: number[]): Run[] {
  const chars = Array.from(path);
  const hits = new Set(indices);
  const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  const dirEnd = slash === -1 ? 0 : Array.from(path.slice(0, slash + 1)).length;
  const runs: Run[] = [];
  chars.forEach((c, i) => {
    const hit = hits.has(i);
    const dir = i < dirEnd;
    const last = runs[runs.length - 1];
    if (last && last.hit === hit && last.dir === dir) last.text += c;
    else runs.push({ text: c, hit, dir });
  });
  return runs;
}
