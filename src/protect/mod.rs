//! Victim-side secret stores: ordinary heap, hygiene flags, `memfd_secret`.
