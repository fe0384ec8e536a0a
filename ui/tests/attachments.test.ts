import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  MAX_ATTACHMENT_BYTES,
  TYPE_REFUSED,
  attachmentIdFromPath,
  attachmentType,
  checkAttachment,
  fileNameOf,
  formatSize,
  hasMention,
  insertMention,
  localImagePart,
  mentionAt,
  mentionSegments,
  mentionToken,
  messageAttachmentIds,
  messageImages,
  rememberAttachmentName,
  removeMention,
  sniffImageType,
  highlightRuns,
} from '../src/lib/attachments';
import { api } from '../src/lib/api';
import { addSentMessage, emptyData, userText } from '../src/lib/reducer';
import type { UserInput } from '../src/lib/types';

const ID = '0123456789abcdef0123456789abcdef';
const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52];
const bytes = (...b: number[]) => new Uint8Array(b);

describe('sizes in words', () => {
  it('uses B, KB and MB with one decimal at most', () => {
    expect(formatSize(0)).toBe('0 B');
    expect(formatSize(1023)).toBe('1023 B');
    expect(formatSize(1024)).toBe('1 KB');
    expect(formatSize(1536)).toBe('1.5 KB');
    expect(formatSize(20 * 1024 * 1024)).toBe('20 MB');
    expect(formatSize(Math.round(23.4 * 1024 * 1024))).toBe('23.4 MB');
    expect(formatSize(150 * 1024 * 1024)).toBe('150 MB');
    expect(formatSize(3 * 1024 * 1024 * 1024)).toBe('3 GB');
  });
});

describe('what can be attached', () => {
  it('reads the type from the first bytes', () => {
    expect(sniffImageType(bytes(...PNG))).toBe('image/png');
    expect(sniffImageType(bytes(0xff, 0xd8, 0xff, 0xe0))).toBe('image/jpeg');
    expect(sniffImageType(bytes(...Array.from('GIF89a', (c) => c.charCodeAt(0))))).toBe('image/gif');
    expect(sniffImageType(bytes(...Array.from('RIFF\0\0\0\0WEBPVP8 ', (c) => c.charCodeAt(0))))).toBe('image/webp');
    expect(sniffImageType(bytes(...Array.from('%PDF-1.7', (c) => c.charCodeAt(0))))).toBeNull();
    expect(sniffImageType(bytes())).toBeNull();
  });

  it('prefers the bytes, else the declared type of the four', () => {
    expect(attachmentType('application/octet-stream', bytes(...PNG))).toBe('image/png');
    expect(attachmentType('image/png', bytes(0xff, 0xd8, 0xff, 0xe0))).toBe('image/jpeg');
    // Bytes that are no image, whatever the name says.
    expect(attachmentType('image/png', bytes(...Array.from('not an image at all', (c) => c.charCodeAt(0))))).toBeNull();
    // Too few bytes to tell: the declared type.
    expect(attachmentType('image/webp', bytes(1, 2))).toBe('image/webp');
    expect(attachmentType('IMAGE/GIF', null)).toBe('image/gif');
    expect(attachmentType('image/svg+xml', null)).toBeNull();
    expect(attachmentType('', null)).toBeNull();
  });

  it('refuses other types and images over 20 MB, in words', () => {
    expect(checkAttachment(1000, 'image/png')).toBeNull();
    expect(checkAttachment(MAX_ATTACHMENT_BYTES, 'image/png')).toBeNull();
    expect(checkAttachment(Math.round(23.4 * 1024 * 1024), 'image/png')).toBe('This image is 23.4 MB; the limit is 20 MB.');
    expect(checkAttachment(21 * 1024 * 1024, 'image/jpeg')).toBe('This image is 21 MB; the limit is 20 MB.');
    expect(checkAttachment(10, null)).toBe('Only PNG, JPEG, GIF and WebP images can be attached.');
    expect(checkAttachment(10, null)).toBe(TYPE_REFUSED);
  });
});

describe('images in sent messages', () => {
  it('takes the id from a path in an attachments folder only', () => {
    expect(attachmentIdFromPath(`/home/me/.local/share/perch/attachments/${ID}.png`)).toBe(ID);
    expect(attachmentIdFromPath(`C:\\Users\\me\\perch\\attachments\\${ID.toUpperCase()}.jpg`)).toBe(ID);
    expect(attachmentIdFromPath(`attachments/${ID}`)).toBe(ID);
    expect(attachmentIdFromPath(`/home/me/pictures/${ID}.png`)).toBeNull();
    expect(attachmentIdFromPath('/data/attachments/cat.png')).toBeNull();
    expect(attachmentIdFromPath(`/data/attachments/${ID}0.png`)).toBeNull();
    expect(attachmentIdFromPath(`${ID}.png`)).toBeNull();
  });

  it('names files by their last path part', () => {
    expect(fileNameOf('/a/b/cat.png')).toBe('cat.png');
    expect(fileNameOf('C:\\a\\dog.jpg')).toBe('dog.jpg');
    expect(fileNameOf('plain')).toBe('plain');
  });

  it('shows attachments with a preview, the person’s files by name, and resends the attachments', () => {
    rememberAttachmentName(ID, 'screenshot.png');
    const other = 'fedcba9876543210fedcba9876543210';
    const content: UserInput[] = [
      { type: 'text', text: 'Look' },
      { type: 'localImage', path: `/data/attachments/${ID}.png` },
      { type: 'localImage', path: '/home/me/diagram.png' },
      { type: 'localImage', path: `/data/attachments/${other}.webp` },
      { type: 'image', url: 'https://example.com/x.png' },
      { type: 'localImage', path: `/data/attachments/${ID}.png` },
    ];
    const shown = messageImages(content);
    expect(shown[0]).toEqual({ id: ID, name: 'screenshot.png', alt: 'Attached image screenshot.png', src: `/api/attachments/${ID}` });
    expect(shown[1]).toEqual({ id: null, name: 'diagram.png', alt: 'Attached image diagram.png', src: null });
    // An attachment whose file name this page does not know (after a reload): its place.
    expect(shown[2]).toEqual({ id: other, name: 'Image 3', alt: 'Attached image 3', src: `/api/attachments/${other}` });
    // A remote address is never loaded.
    expect(shown[3].src).toBeNull();
    expect(messageAttachmentIds(content)).toEqual([ID, other]);
  });

  it('shows the images of a message at once, before Codex reports it', () => {
    const d = emptyData();
    addSentMessage(d, 's1', 't1', '', [localImagePart(ID)]);
    const item = d.turns.s1[0].items[0];
    expect(item.type === 'userMessage' && item.local).toBe(true);
    if (item.type !== 'userMessage') throw new Error('not a user message');
    expect(userText(item)).toBe('');
    expect(messageAttachmentIds(item.content)).toEqual([ID]);
  });
});

describe('@ mentions', () => {
  it('finds the mention the cursor is in, at a word start only', () => {
    expect(mentionAt('@', 1)).toEqual({ start: 0, end: 1, query: '' });
    expect(mentionAt('see @src/ma', 11)).toEqual({ start: 4, end: 11, query: 'src/ma' });
    // The cursor inside the token: the query is up to the cursor, the token to its end.
    expect(mentionAt('see @src/main.rs now', 8)).toEqual({ start: 4, end: 16, query: 'src' });
    expect(mentionAt('line\n@rea', 9)).toEqual({ start: 5, end: 9, query: 'rea' });
    expect(mentionAt('mail me@example.com', 19)).toBeNull();
    expect(mentionAt('@src and more', 13)).toBeNull();
    expect(mentionAt('no at here', 5)).toBeNull();
    expect(mentionAt('', 0)).toBeNull();
    expect(mentionAt('@abc', 0)).toBeNull();
  });

  it('inserts the picked path with a space after it', () => {
    const text = 'fix @ma please';
    const at = mentionAt(text, 7)!;
    expect(insertMention(text, at, 'src/main.rs')).toEqual({ text: 'fix @src/main.rs please', cursor: 17 });
    const end = 'open @rea';
    expect(insertMention(end, mentionAt(end, end.length)!, 'README.md')).toEqual({ text: 'open @README.md ', cursor: 16 });
    // A path with a space goes in quotes.
    expect(mentionToken('docs/my notes.md')).toBe('@"docs/my notes.md"');
    const q = '@my';
    expect(insertMention(q, mentionAt(q, 3)!, 'docs/my notes.md').text).toBe('@"docs/my notes.md" ');
  });

  it('knows whether a mention is still in the text and takes it out', () => {
    expect(hasMention('fix @src/main.rs please', 'src/main.rs')).toBe(true);
    expect(hasMention('fix @src/main.rs, please', 'src/main.rs')).toBe(true);
    expect(hasMention('fix @src/main.rsx', 'src/main.rs')).toBe(false);
    expect(hasMention('fix src/main.rs', 'src/main.rs')).toBe(false);
    expect(removeMention('fix @src/main.rs please', 'src/main.rs')).toBe('fix please');
    expect(removeMention('fix @src/main.rs', 'src/main.rs')).toBe('fix');
    expect(removeMention('@a.md @b.md', 'b.md')).toBe('@a.md');
    expect(removeMention('@"my file.md" now', 'my file.md')).toBe('now');
    expect(removeMention('nothing here', 'a.md')).toBe('nothing here');
  });

  it('finds the mentions of a sent message', () => {
    expect(mentionSegments('Read @src/main.rs and @README.md. Mail me@x.org @someone')).toEqual([
      { text: 'Read ', path: null },
      { text: '@src/main.rs', path: 'src/main.rs' },
      { text: ' and ', path: null },
      { text: '@README.md', path: 'README.md' },
      { text: '. Mail me@x.org @someone', path: null },
    ]);
    expect(mentionSegments('@"my notes.md" ok')).toEqual([
      { text: '@"my notes.md"', path: 'my notes.md' },
      { text: ' ok', path: null },
    ]);
    expect(mentionSegments('plain')).toEqual([{ text: 'plain', path: null }]);
    expect(mentionSegments('')).toEqual([]);
  });

  it('highlights the matched characters and the folder part', () => {
    expect(highlightRuns('src/main.rs', [4, 5])).toEqual([
      { text: 'src/', hit: false, dir: true },
      { text: 'ma', hit: true, dir: false },
      { text: 'in.rs', hit: false, dir: false },
    ]);
    // Indices count characters, not UTF-16 units.
    expect(highlightRuns('é😀x', [2])).toEqual([
      { text: 'é😀', hit: false, dir: false },
      { text: 'x', hit: true, dir: false },
    ]);
  });
});

describe('API calls', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('uploads the raw bytes with the image type, searches files, sends the ids', async () => {
    const calls: [string, RequestInit][] = [];
    vi.stubGlobal('fetch', vi.fn(async (url: string, init: RequestInit) => {
      calls.push([url, init]);
      const body = url === '/api/attachments' ? { id: ID, mime: 'image/png', size: 16 } : url.includes('/files') ? { data: [] } : { sessionId: 's1', turnId: 't1', mode: 'start' };
      return new Response(JSON.stringify(body), { status: 201, headers: { 'Content-Type': 'application/json' } });
    }));
    const blob = new Blob([new Uint8Array(PNG)]);
    expect(await api.uploadAttachment(blob, 'image/png')).toEqual({ id: ID, mime: 'image/png', size: 16 });
    expect(calls[0][1].method).toBe('POST');
    expect(calls[0][1].body).toBe(blob);
    expect((calls[0][1].headers as Record<string, string>)['Content-Type']).toBe('image/png');
    expect((calls[0][1].headers as Record<string, string>)['X-Perch-Request']).toBe('1');

    await api.sessionFiles('s 1', 'ma in', 5);
    expect(calls[1][0]).toBe('/api/sessions/s%201/files?q=ma+in&limit=5');

    await api.sendMessage('s1', '', [ID]);
    expect(JSON.parse(calls[2][1].body as string)).toEqual({ text: '', attachments: [ID] });
    await api.sendMessage('s1', 'hi');
    expect(JSON.parse(calls[3][1].body as string)).toEqual({ text: 'hi' });
    await api.resend('s1', 't0', 'again', [ID]);
    expect(calls[4][0]).toBe('/api/sessions/s1/resend');
    expect(JSON.parse(calls[4][1].body as string)).toEqual({ turnId: 't0', text: 'again', attachments: [ID] });
  });
});
