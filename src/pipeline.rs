//! One auto-update pass: schedule → fetch → discover → extract → store →
//! review → publish.
