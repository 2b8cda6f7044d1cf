//! The toutiao (头条号) platform client.
