import { describe, expect, it } from 'vitest';
import { diffFile, parseUnified, splitRows } from '../src/lib/diff';

const UPDATE = `--- a/src/main.rs
+++ b/src/main.rs
@@ -1,4 +1,4 @@
 fn main() {
-    println!("hi");
+    println!("hello");
+    println!("world");
 }
\\ No newline at end of file
@@ -10,2 +11,1 @@ fn other() {
-    a();
-    b();
+    c();
`;

describe('diff', () => {
  it('numbers the lines of each hunk on both sides', () => {
    const [first, second] = parseUnified(UPDATE);
    expect(first.header).toBe('@@ -1,4 +1,4 @@');
    expect(first.lines.map((l) => [l.kind, l.oldNo, l.newNo])).toEqual([
      ['ctx', 1, 1],
      ['del', 2, null],
      ['add', null, 2],
      ['add', null, 3],
      ['ctx', 3, 4],
      ['note', null, null],
    ]);
    expect(second.lines.map((l) => [l.kind, l.oldNo, l.newNo, l.text])).toEqual([
      ['del', 10, null, '    a();'],
      ['del', 11, null, '    b();'],
      ['add', null, 11, '    c();'],
    ]);
  });

  it('counts an update from its hunks, and an added or deleted file from its content', () => {
    expect(diffFile({ path: 'src/main.rs', kind: { type: 'update', movePath: null }, diff: UPDATE })).toMatchObject({
      kind: 'update',
      added: 3,
      removed: 3,
    });
    const added = diffFile({ path: 'new.txt', kind: { type: 'add' }, diff: 'one\n+two\n---three\n' });
    expect([added.added, added.removed]).toEqual([3, 0]);
    expect(added.hunks[0].lines.map((l) => [l.text, l.newNo])).toEqual([
      ['one', 1],
      ['+two', 2],
      ['---three', 3],
    ]);
    const deleted = diffFile({ path: 'old.txt', kind: { type: 'delete' }, diff: 'a\nb\n' });
    expect([deleted.added, deleted.removed]).toEqual([0, 2]);
    const moved = diffFile({ path: 'a.rs', kind: { type: 'update', movePath: 'b.rs' }, diff: '' });
    expect([moved.movePath, moved.added, moved.removed, moved.hunks.length]).toEqual(['b.rs', 0, 0, 0]);
  });

  it('puts a run of deletions beside the additions that replace it', () => {
    const [first, second] = parseUnified(UPDATE);
    const rows = splitRows(first).map((r) => [r.left?.kind ?? null, r.left?.oldNo ?? null, r.right?.kind ?? null, r.right?.newNo ?? null]);
    expect(rows).toEqual([
      ['ctx', 1, 'ctx', 1],
      ['del', 2, 'add', 2],
      [null, null, 'add', 3],
      ['ctx', 3, 'ctx', 4],
      ['note', null, 'note', null],
    ]);
    expect(splitRows(second).map((r) => [r.left?.oldNo ?? null, r.right?.newNo ?? null])).toEqual([
      [10, 11],
      [11, null],
    ]);
  });
});
