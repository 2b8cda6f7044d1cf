//! The `autosync` command: parses the command line, loads the config, starts
//! logging and calls the library.

fn main() {}
