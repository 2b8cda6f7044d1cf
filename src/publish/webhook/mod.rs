//! The `webhook` platform: every post is one signed JSON `POST` to a URL the
//! operator configured — a province's own platform, or any system that
//! wants the articles.
//!
//! A webhook receiver has no API to list what it holds and no identity to
//! ask for, so this platform rests on a small contract instead, which a
//! receiver must keep (and the double in [`mock`] keeps, strictly):
//!
//! * **Signature.** `X-Autosync-Signature: sha256=<hex>` is the HMAC-SHA256
//!   of the raw body bytes with the shared secret. A receiver checks it
//!   before anything else and answers 401 when it does not match.
//! * **Idempotency.** `Idempotency-Key` is the item's id (also the body's
//!   `id`). A receiver answers 2xx only once it has stored the post, and a
//!   request whose key it has already stored gets **409** (or the first
//!   answer again), storing nothing new. That is what makes sending again
//!   safe, and sending again is the only way to learn whether a post whose
//!   answer was lost arrived (see [`client`]).
//! * **Waiting.** 429 or 503, with `Retry-After` in seconds or as an HTTP
//!   date, asks to wait; other 4xx refuse the post for good, with a
//!   `{"message": …}` for the editors; 5xx means "it may or may not have been
//!   stored".
//!
//! The binding of a webhook account is the URL and the secret the operator
//! configured: there is nothing else to check it against (see
//! [`client::Webhook`]'s `verify`).
//!
//! Files: [`config`] (the `kind = "webhook"` options), [`client`] (the
//! [`Publisher`](super::Publisher)), [`mock`] (the receiver double behind
//! `autosync mock-webhook`).

pub mod client;
pub mod config;
pub mod mock;

pub use client::{
    DEFAULT_RETRY_AFTER, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, Webhook, WebhookError, WebhookPost,
    signature, signature_matches,
};
pub use config::WebhookConfig;
