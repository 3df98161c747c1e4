//! Detectors over any [`crate::memory::MemorySource`]: needles in several encodings and
//! secret shapes confirmed by hash.
