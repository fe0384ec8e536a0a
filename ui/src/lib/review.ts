// A session's review (`/api/sessions/{id}/review`): every file the session
// changed, against the commit checked out when it first changed one (or,
// outside git, the session's own changes), with revert and "open in editor".
// The routes, and the pure parts the review pane uses (hunks, counts and
// words); unit-tested in tests/review.test.ts.

import { request } from './api';
import { parseUnified, type DiffFile } from './diff';
import type { Opened, OpenFile, Review, ReviewBase, ReviewFile, ReviewStatus, Revert } from './generated/protocol';

export type { Opened, Review, ReviewBase, ReviewFile, ReviewStatus } from './generated/protocol';

const enc = encodeURIComponent;

/** `GET /api/sessions/{id}/review`. */
export function fetchReview(sessionId: string): Promise<Review> {
  return request<Review>('GET', `/api/sessions/${enc(sessionId)}/review`);
}

/** Puts a file (or one hunk of its review diff, 0-based) back as it is in
 *  the base; answers the whole updated review. 409: the hunk no longer
 *  applies (reload); 422: not a file the session changed in its folder. */
export function revertInReview(sessionId: string, path: string, hunk?: number): Promise<Review> {
  const body: Revert = hunk === undefined ? { path } : { path, hunk };
  return request<Review>('POST', `/api/sessions/${enc(sessionId)}/review/revert`, { body });
}

/** Opens a file of the review in the configured editor (at `line`), else
 *  with the desktop's default application. */
export function openInEditor(sessionId: string, path: string, line?: number): Promise<Opened> {
  const body: OpenFile = line === undefined ? { path } : { path, line };
  return request<Opened>('POST', `/api/sessions/${enc(sessionId)}/review/open`, { body });
}

/** The word for a file's status, as the pane shows it. */
export function statusWord(status: ReviewStatus): string {
  switch (status) {
    case 'added':
      return 'added';
    case 'modified':
      return 'modified';
    case 'deleted':
      return 'deleted';
    case 'unchanged':
      return 'unchanged';
    case 'binary':
      return 'binary';
    default:
      return String(status);
  }
}

/** A status's badge tone (the app's `.badge` classes). */
export function statusTone(status: ReviewStatus): 'ok' | 'err' | 'info' | 'muted' | 'warn' {
  switch (status) {
    case 'added':
      return 'ok';
    case 'deleted':
      return 'err';
    case 'modified':
      return 'info';
    case 'binary':
      return 'warn';
    default:
      return 'muted';
  }
}

/** `+3 −1`, as the pane counts a file. */
export function countWords(file: Pick<ReviewFile, 'additions' | 'deletions'>): string {
  return `+${file.additions} −${file.deletions}`;
}

/** Files that differ from the base (what the "Review changes" badge counts). */
export function changedFiles(review: Review | null | undefined): ReviewFile[] {
  return review ? review.files.filter((f) => f.status !== 'unchanged') : [];
}

/** The number of `@@` hunks of a unified diff: the indices 0…n−1 that
 *  `revertInReview` takes. File headers (`diff --git`, `---`, `+++`) do not count. */
export function hunkCount(diff: string): number {
  return parseUnified(diff).length;
}

/** A review file as the diff view draws it: its hunks in the order of its
 *  diff (so hunk `i` of the view is hunk `i` of the revert route), with the
 *  server's counts. */
export function reviewDiffFile(file: ReviewFile): DiffFile {
  const kind = file.status === 'added' ? 'add' : file.status === 'deleted' ? 'delete' : file.status === 'modified' ? 'update' : 'other';
  return {
    path: file.path,
    movePath: null,
    kind,
    hunks: parseUnified(file.diff),
    added: file.additions,
    removed: file.deletions,
  };
}

/** The line to open a file at: the first changed line on the new side of
 *  its first hunk (1-based), or none (a deleted or unchanged file, no diff). */
export function firstChangedLine(diff: string): number | undefined {
  for (const hunk of parseUnified(diff)) {
    const changed = hunk.lines.find((l) => l.kind === 'add' || l.kind === 'del');
    if (!changed) continue;
    if (changed.newNo !== null) return changed.newNo;
    // A deletion: the line after it on the new side (the next context or
    // addition), else the line before it.
    const after = hunk.lines.slice(hunk.lines.indexOf(changed)).find((l) => l.newNo !== null);
    if (after?.newNo) return after.newNo;
    const before = [...hunk.lines.slice(0, hunk.lines.indexOf(changed))].reverse().find((l) => l.newNo !== null);
    return Math.max(1, before?.newNo ?? 1);
  }
  return undefined;
}

/** A commit as a person reads it: its first seven characters. */
export function shortCommit(commit: string): string {
  return commit.slice(0, 7);
}

/** What the diffs compare with, in words. */
export function describeBase(base: ReviewBase): string {
  if (base.kind === 'git') {
    const summary = base.summary.trim();
    return `Compared with commit ${shortCommit(base.commit)}${summary ? ` — ${summary}` : ''}`;
  }
  return base.reason.trim() || 'Not a git repository: the changes are shown as Codex made them.';
}

/** The file can be put back from here: a git base, inside the session's
 *  folder, and not already as it was. */
export function canRevert(review: Review, file: ReviewFile): boolean {
  return review.base.kind === 'git' && file.inside && file.status !== 'unchanged';
}

/** Single hunks can be put back: a modified text file that can be reverted. */
export function canRevertHunks(review: Review, file: ReviewFile): boolean {
  return canRevert(review, file) && file.status === 'modified' && hunkCount(file.diff) > 0;
}

/** The file can be opened: inside the folder, on disk, and changed (an
 *  unchanged file may be an added one reverted, gone from disk). */
export function canOpen(file: ReviewFile): boolean {
  return file.inside && file.status !== 'deleted' && file.status !== 'unchanged';
}

/** The question "Revert file" asks first. */
export function revertQuestion(file: Pick<ReviewFile, 'path' | 'status'>): string {
  const name = baseName(file.path);
  switch (file.status) {
    case 'added':
      return `Delete ${name}? It did not exist at the base.`;
    case 'deleted':
      return `Restore ${name} as it was at the base?`;
    default:
      return `Put ${name} back as it was at the base? Its changes are lost.`;
  }
}

/** The outcome of "Open in editor", in words. */
export function openedWords(opened: Opened): string {
  return opened.with === 'desktop' ? 'Opened with your desktop’s default application' : 'Opened in your editor';
}

/** The last part of a path. */
export function baseName(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return parts[parts.length - 1] ?? path;
}
