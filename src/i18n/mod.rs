//! The one language catalogue: every word confidump says itself, in English and Japanese.
pub mod lab;
pub mod ui;
