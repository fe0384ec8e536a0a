//! `perch-e2e`: end-to-end encrypted, signed messages between Perches.
//!
//! - Each id (Perch's agent, the person) has one key per device
//!   ([`DeviceKey`]): an Ed25519 signing key and an X25519 key agreement
//!   key, both derived from one 32-byte seed kept in the OS keyring. Its
//!   public half ([`DeviceEntry`]) is published on the id's agent card, in
//!   `meta.e2e`, signed by itself and bound to the id; a rotated key also
//!   carries a statement signed by the key it replaces.
//! - A message is sealed ([`seal`]) under a one-time ChaCha20-Poly1305 key
//!   that is wrapped with HPKE base mode (RFC 9180: X25519-HKDF-SHA256,
//!   ChaCha20-Poly1305) to every recipient device, and signed by the
//!   sender's device. The routing fields (from, to, channel, reply-to) stay
//!   clear for the relay and are bound to the ciphertext and the signature;
//!   the subject and body are inside.
//! - A message to a group (`tag:`, `cap:`, `label:`, `broadcast`) is
//!   encrypted once under the group's channel key ([`ChannelKey`]), which
//!   members receive inside sealed messages ([`ChannelShare`]).
//! - A message that cannot be sealed (a recipient publishes no key) is
//!   signed in the clear ([`sign_plain`]).
//!
//! Invariants: no I/O and no clock (callers pass time); no primitive or
//! protocol of our own beyond composing these; a message is only ever
//! opened after its signature checked against a device the sender's card
//! lists.

mod channel;
mod envelope;
mod keys;

pub use channel::{channel_signer, open_channel, ChannelKey, ChannelShare};
pub use envelope::{
    open, plain_signature, seal, sealed_by, sign_plain, verify_plain, Content, Header, OpenError,
    Sealed,
};
pub use keys::{devices_in, key_list, key_list_without, DeviceEntry, DeviceKey, KeyError};

/// The card `meta` key of the key list, and the message `meta` key of a
/// sealed or signed message's mark.
pub const META_KEY: &str = "e2e";
/// A card lists at most this many devices (the newest).
pub const MAX_DEVICES: usize = 8;
/// A message is sealed to at most this many devices.
pub const MAX_RECIPIENTS: usize = 256;
