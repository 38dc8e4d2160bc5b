//! Container lifecycle benchmark (filled in later).

fn main() {}
