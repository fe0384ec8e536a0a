import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  canOpen,
  canRevert,
  canRevertHunks,
  changedFiles,
  countWords,
  describeBase,
  firstChangedLine,
  hunkCount,
  openedWords,
  openInEditor,
  reviewDiffFile,
  revertInReview,
  revertQuestion,
  shortCommit,
  statusTone,
  statusWord,
  type Review,
  type ReviewFile,
} from '../src/lib/review';

// A review diff as git writes it: file headers, then two hunks.
const TWO_HUNKS = `diff --git a/notes.txt b/notes.txt
index 3b18e51..e69de29 100644
--- a/notes.txt
+++ b/notes.txt
@@ -1,4 +1,4 @@ intro
 one
-two
+TWO
 three
 four
@@ -10,3 +10,4 @@ middle
 ten
+ten and a half
 eleven
 twelve
`;

const file = (over: Partial<ReviewFile> = {}): ReviewFile => ({
  path: 'notes.txt',
  status: 'modified',
  diff: TWO_HUNKS,
  additions: 2,
  deletions: 1,
  inside: true,
  ...over,
});

const gitReview = (files: ReviewFile[]): Review => ({
  cwd: '/work/repo',
  base: { kind: 'git', commit: '0123456789abcdef0123456789abcdef01234567', summary: 'First commit' },
  files,
});

describe('review hunks', () => {
  it('counts the @@ hunks, not the file headers', () => {
    expect(hunkCount(TWO_HUNKS)).toBe(2);
    expect(hunkCount('')).toBe(0);
    expect(hunkCount('diff --git a/x b/x\nnew file mode 100644\n--- /dev/null\n+++ b/x\n@@ -0,0 +1,2 @@\n+a\n+b\n')).toBe(1);
    // A line that looks like a header inside a hunk is content.
    expect(hunkCount('@@ -1 +1 @@\n-@@ -1 +1 @@\n+@@ -2 +2 @@\n')).toBe(1);
  });

  it('keeps the hunks in the order of the diff, so the view’s index is the route’s', () => {
    const diff = reviewDiffFile(file());
    expect(diff.hunks.map((h) => h.header)).toEqual(['@@ -1,4 +1,4 @@ intro', '@@ -10,3 +10,4 @@ middle']);
    expect(diff.hunks[1].lines.filter((l) => l.kind === 'add').map((l) => [l.text, l.newNo])).toEqual([['ten and a half', 11]]);
    // The server's counts, and a kind the diff view knows.
    expect([diff.added, diff.removed, diff.kind]).toEqual([2, 1, 'update']);
    expect(reviewDiffFile(file({ status: 'added' })).kind).toBe('add');
    expect(reviewDiffFile(file({ status: 'deleted' })).kind).toBe('delete');
    expect(reviewDiffFile(file({ status: 'binary', diff: '' })).hunks).toEqual([]);
  });

  it('opens a file at its first changed line', () => {
    expect(firstChangedLine(TWO_HUNKS)).toBe(2);
    expect(firstChangedLine('@@ -0,0 +1,2 @@\n+a\n+b\n')).toBe(1);
    // Only a deletion: the line after it on the new side.
    expect(firstChangedLine('@@ -3,3 +3,2 @@\n c\n-d\n e\n')).toBe(4);
    // A deletion at the end: the line before it.
    expect(firstChangedLine('@@ -3,2 +3,1 @@\n c\n-d\n')).toBe(3);
    expect(firstChangedLine('')).toBeUndefined();
  });
});

describe('review words', () => {
  it('names every status', () => {
    expect((['added', 'modified', 'deleted', 'unchanged', 'binary'] as const).map(statusWord)).toEqual([
      'added',
      'modified',
      'deleted',
      'unchanged',
      'binary',
    ]);
    expect(statusTone('added')).toBe('ok');
    expect(statusTone('deleted')).toBe('err');
    expect(statusTone('unchanged')).toBe('muted');
  });

  it('counts lines and changed files', () => {
    expect(countWords({ additions: 3, deletions: 0 })).toBe('+3 −0');
    const review = gitReview([file(), file({ path: 'b.txt', status: 'unchanged', diff: '', additions: 0, deletions: 0 })]);
    expect(changedFiles(review).map((f) => f.path)).toEqual(['notes.txt']);
    expect(changedFiles(null)).toEqual([]);
  });

  it('says what the diffs compare with', () => {
    expect(shortCommit('0123456789abcdef')).toBe('0123456');
    expect(describeBase(gitReview([]).base)).toBe('Compared with commit 0123456 — First commit');
    expect(describeBase({ kind: 'git', commit: 'abcdef0123', summary: '  ' })).toBe('Compared with commit abcdef0');
    expect(describeBase({ kind: 'session', reason: 'Not a git repository.' })).toBe('Not a git repository.');
  });

  it('offers revert and open only where they apply', () => {
    const review = gitReview([]);
    expect(canRevert(review, file())).toBe(true);
    expect(canRevertHunks(review, file())).toBe(true);
    // An added file goes back whole; outside the folder nothing is offered.
    expect(canRevertHunks(review, file({ status: 'added' }))).toBe(false);
    expect(canRevert(review, file({ status: 'added' }))).toBe(true);
    expect(canRevert(review, file({ inside: false }))).toBe(false);
    expect(canOpen(file({ inside: false }))).toBe(false);
    expect(canRevert(review, file({ status: 'unchanged' }))).toBe(false);
    expect(canOpen(file({ status: 'deleted' }))).toBe(false);
    expect(canOpen(file({ status: 'unchanged' }))).toBe(false);
    // Outside git: the session's changes are shown, nothing is reverted.
    const session: Review = { ...review, base: { kind: 'session', reason: 'Not a git repository.' } };
    expect(canRevert(session, file())).toBe(false);
    expect(canRevertHunks(session, file())).toBe(false);
    expect(canOpen(file())).toBe(true);
  });

  it('asks before reverting a file, in words that fit what happens', () => {
    expect(revertQuestion({ path: 'src/new.txt', status: 'added' })).toBe('Delete new.txt? It did not exist at the base.');
    expect(revertQuestion({ path: 'gone.txt', status: 'deleted' })).toBe('Restore gone.txt as it was at the base?');
    expect(revertQuestion({ path: 'a/notes.txt', status: 'modified' })).toMatch(/^Put notes\.txt back/);
    expect(openedWords({ with: 'editor' })).toBe('Opened in your editor');
    expect(openedWords({ with: 'desktop' })).toMatch(/default application/);
  });
});

describe('review routes', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('posts the path and the hunk (0-based) only when given', async () => {
    const bodies: unknown[] = [];
    const urls: string[] = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      urls.push(url);
      bodies.push(JSON.parse(String(init.body)));
      return new Response(JSON.stringify(gitReview([])), { status: 200, headers: { 'Content-Type': 'application/json' } });
    });
    await revertInReview('s/1', 'notes.txt', 0);
    await revertInReview('s/1', 'notes.txt');
    expect(urls[0]).toBe('/api/sessions/s%2F1/review/revert');
    expect(bodies).toEqual([{ path: 'notes.txt', hunk: 0 }, { path: 'notes.txt' }]);
  });

  it('turns a refused revert into the server’s words', async () => {
    vi.stubGlobal('fetch', async () =>
      new Response(JSON.stringify({ error: { code: 'conflict', message: 'The file changed since: reload the review.' } }), { status: 409 }),
    );
    await expect(revertInReview('s1', 'notes.txt', 1)).rejects.toMatchObject({ status: 409, message: 'The file changed since: reload the review.' });
  });

  it('opens a file at a line', async () => {
    const bodies: unknown[] = [];
    vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => {
      bodies.push(JSON.parse(String(init.body)));
      return new Response(JSON.stringify({ with: 'editor' }), { status: 200 });
    });
    expect(await openInEditor('s1', 'notes.txt', 2)).toEqual({ with: 'editor' });
    await openInEditor('s1', 'notes.txt');
    expect(bodies).toEqual([{ path: 'notes.txt', line: 2 }, { path: 'notes.txt' }]);
  });
});
