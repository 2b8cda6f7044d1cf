//! The `file` publisher: one JSON file per published item, for dry runs.
