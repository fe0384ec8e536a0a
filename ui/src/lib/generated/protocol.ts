// Generated from crates/protocol by its tests/typescript.rs; do not edit.
// After changing those types: UPDATE_GENERATED=1 cargo test -p perch-protocol

export type List<T> = { data: Array<T>, total?: number, hasMore?: boolean, };

export type SendMessage = { 
/**
 * An agent id, `tag:…`, `cap:…`, `label:…` or `broadcast`.
 */
to: string, body: string, subject?: string, channel?: string, replyTo?: number, 
/**
 * Optional on the wire (false when absent); the UI always sends it.
 */
urgent: boolean, claimable: boolean, };

export type ReadMarks = { ids: Array<number>, };
