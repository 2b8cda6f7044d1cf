//! autosync keeps an organisation's social-media accounts in step with its
//! official websites.
//!
//! Data flows through one module per stage:
//!
//! | stage | module | what it does |
//! |---|---|---|
//! | config | [`config`] | the TOML file, validated; every error names file, line, unit |
//! | fetch | [`fetch`], [`charset`] | polite, capped, conditional HTTP; bytes to text |
//! | discover | [`source`] | feeds and HTML list pages to article entries |
//! | extract | [`extract`] | article page to title, time, body, images |
//! | store | [`store`] | sled: items, their states, per-source state |
//! | publish | [`publish`] | the `Publisher` trait, one file per platform |
//! | pass | [`pipeline`] | one pass over the units, tying the stages together |
//!
//! Supporting: [`clock`] (wall time, passed in), [`secret`] (credentials that
//! never print). `main.rs` only parses the command line and calls in here.

pub mod charset;
pub mod clock;
pub mod config;
pub mod demo;
pub mod extract;
pub mod fetch;
pub mod pipeline;
pub mod publish;
pub mod review;
pub mod schedule;
pub mod secret;
pub mod source;
pub mod store;
