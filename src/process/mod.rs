//! The process context: a victim that is an ordinary process on this host, the secret in one
//! of its memory protections.

pub mod victim;
