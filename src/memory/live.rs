//! Reading a live process's memory: `process_vm_readv`, with `/proc/PID/mem` as the fallback.
