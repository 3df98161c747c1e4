//! ELF core files: a streaming writer for live processes and a reader for any x86-64 core.
