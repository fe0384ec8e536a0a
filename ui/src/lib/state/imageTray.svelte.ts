// The images waiting in a composer: each uploads as soon as it is added
// (pasted, dropped or picked), and shows its state as a chip until the
// message goes. Per session while the page lives: another session has its
// own tray, and a reload starts empty (a draft keeps the text only; the
// files are the person's to attach again).

import { api, ApiError } from '../api';
import {
  MAX_ATTACHMENTS,
  TOO_MANY,
  attachmentType,
  checkAttachment,
  rememberAttachmentName,
  type PendingAttachment,
} from '../attachments';
import { errMsg } from '../format';

/** The images waiting in each session's composer, while the page lives. */
const waiting = new Map<string, PendingAttachment[]>();

let keySeq = 0;

export class ImageTray {
  items = $state<PendingAttachment[]>([]);
  /** Something about the images as a whole (e.g. too many). */
  note = $state<string | null>(null);
  readonly uploading = $derived(this.items.some((a) => a.state === 'uploading'));
  readonly failed = $derived(this.items.some((a) => a.state === 'failed'));
  readonly readyIds = $derived(this.items.filter((a) => a.state === 'ready' && a.id).map((a) => a.id as string));
  /** Why Send is unavailable because of the images, or null. */
  readonly block = $derived(
    this.uploading
      ? 'Wait until the images have uploaded.'
      : this.failed
        ? 'Remove the images that could not be attached (or retry them) to send.'
        : null,
  );

  /** Adds files (at most MAX_ATTACHMENTS in all); each checked one uploads at once. */
  async add(files: File[]): Promise<void> {
    if (files.length === 0) return;
    this.note = null;
    const room = MAX_ATTACHMENTS - this.items.filter((a) => a.state !== 'failed').length;
    if (files.length > room) {
      this.note = room > 0 ? `${TOO_MANY} Only the first ${room} of these were added.` : TOO_MANY;
      files = files.slice(0, Math.max(room, 0));
    }
    for (const file of files) {
      let head: Uint8Array | null = null;
      try {
        head = new Uint8Array(await file.slice(0, 16).arrayBuffer());
      } catch {
        /* unreadable: the declared type decides, the server checks */
      }
      const mime = attachmentType(file.type, head);
      const error = checkAttachment(file.size, mime);
      this.items.push({
        key: `img-${++keySeq}`,
        file,
        name: file.name || 'Pasted image',
        size: file.size,
        mime,
        preview: mime ? URL.createObjectURL(file) : null,
        state: error ? 'failed' : 'uploading',
        id: null,
        error,
        canRetry: false,
      });
      // The proxy in the list, so that the chip follows the upload.
      const entry = this.items[this.items.length - 1];
      if (!error) void this.upload(entry);
    }
  }

  private async upload(a: PendingAttachment): Promise<void> {
    if (!a.mime) return;
    a.state = 'uploading';
    a.error = null;
    a.canRetry = false;
    try {
      const res = await api.uploadAttachment(a.file, a.mime);
      a.id = res.id;
      a.state = 'ready';
      rememberAttachmentName(res.id, a.name);
    } catch (e) {
      a.state = 'failed';
      a.error = e instanceof ApiError && e.status === 0 ? `${errMsg(e)}.` : errMsg(e);
      // A refused size or type stays refused; anything else may pass next time.
      a.canRetry = !(e instanceof ApiError && (e.status === 413 || e.status === 415 || e.status === 400));
    }
  }

  retry(key: string): void {
    const a = this.items.find((x) => x.key === key);
    if (a) void this.upload(a);
  }

  remove(key: string): void {
    const i = this.items.findIndex((x) => x.key === key);
    if (i === -1) return;
    const [gone] = this.items.splice(i, 1);
    if (gone.preview) URL.revokeObjectURL(gone.preview);
    this.note = null;
  }

  /** Takes off the chips of images that went with a message (not any added meanwhile). */
  clearSent(ids: string[]): void {
    const sent = this.items.filter((a) => a.id !== null && ids.includes(a.id));
    for (const a of sent) if (a.preview) URL.revokeObjectURL(a.preview);
    this.items = this.items.filter((a) => !sent.includes(a));
    this.note = null;
  }

  /** Shows `sessionId`'s waiting images (another session was open). */
  restore(sessionId: string): void {
    this.items = waiting.get(sessionId) ?? [];
    this.note = null;
  }

  /** Keeps the images while another session is open. */
  park(sessionId: string): void {
    if (this.items.length) waiting.set(sessionId, this.items);
    else waiting.delete(sessionId);
  }

  /** The images of `sessionId` went with a message sent from another session's view. */
  static forget(sessionId: string): void {
    waiting.delete(sessionId);
  }
}
