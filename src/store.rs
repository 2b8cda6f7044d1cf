//! The durable store (sled). The only module that touches sled.
