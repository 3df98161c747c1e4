//! What each attack path should give against confidump's enclave on SGX hardware, and the
//! kernel source that decides it. Written here, next to the loader that would meet them, so a
//! run on an SGX machine (Azure DCsv3/DCdsv3, or any Linux >= 5.11 host with SGX and flexible
//! launch control) can confirm or refute each line. **None of this was run on this project's
//! machines, which have no SGX**; the table is derived from the sources cited.
//!
//! | path | production enclave (`sgx`) | debug enclave (`sgx-debug`) | `sgx-sim` |
//! |---|---|---|---|
//! | `dump` (confidump's own: `process_vm_readv`, then `/proc/PID/mem`) | `????`: both reads fail (EFAULT/EIO) | LEAK: `/proc/PID/mem` is served by EDBGRD | LEAK |
//! | `gcore` (gdb) | absent: the mapping is not dumped, even with `-a` | absent | LEAK |
//! | `kernel` core dump | absent | absent | LEAK |
//! | `live` (`/proc/PID/mem`, `process_vm_readv`) | `????` | LEAK | LEAK |
//!
//! # The kernel lines that decide it
//!
//! * **The enclave's mapping is `VM_IO | VM_DONTDUMP`.** `arch/x86/kernel/cpu/sgx/driver.c`,
//!   `sgx_mmap()`:
//!   `vm_flags_set(vma, VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP | VM_IO);`
//!   (before 6.3: `vma->vm_flags |= VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP | VM_IO;`).
//! * **Kernel core dumps skip it.** `fs/coredump.c` (`vma_dump_size()`; `fs/binfmt_elf.c`
//!   before 5.10): `if (vma->vm_flags & VM_DONTDUMP) return 0;` and, for `VM_IO`,
//!   `/* Do not dump I/O mapped devices or special mappings */ if (vma->vm_flags & VM_IO)
//!   return 0;`. The PT_LOAD is written with no file bytes: "absent", not `????`.
//! * **gdb's gcore skips it.** gdb (`linux-tdep.c`, `linux_find_memory_regions_full` and
//!   `dump_mapping_p`) reads `VmFlags` from `/proc/PID/smaps` and never dumps a mapping with
//!   `io` (VM_IO), even when asked for everything; `dd` (VM_DONTDUMP) is honoured unless
//!   `-a`/`use-coredump-filter off`. (FACTS.md: "left out even with -a (VM_IO)".)
//! * **`process_vm_readv` fails.** It pins pages with `get_user_pages`/`pin_user_pages_remote`,
//!   which refuse `VM_IO | VM_PFNMAP` mappings (`check_vma_flags()` in `mm/gup.c`): EFAULT.
//! * **`/proc/PID/mem` asks the driver.** `access_remote_vm()` (`mm/memory.c`,
//!   `__access_remote_vm()`) falls back to `vma->vm_ops->access` when the pages cannot be
//!   pinned, which is `sgx_vma_access()` in `arch/x86/kernel/cpu/sgx/encl.c`:
//!   `if (!test_bit(SGX_ENCL_DEBUG, &encl->flags)) return -EFAULT;` — production enclaves
//!   refuse every read. For a debug enclave it goes on to `sgx_encl_debug_read()`, which runs
//!   `__edbgrd(...)` (ENCLS[EDBGRD]): the CPU decrypts the page for the kernel and root reads
//!   plaintext. `SGX_ENCL_DEBUG` is set in `sgx_encl_create()` (`ioctl.c`) when
//!   `secs->attributes & SGX_ATTR_DEBUG`, i.e. exactly when `--debug-enclave` set
//!   ATTRIBUTES.DEBUG in the SECS (and the SIGSTRUCT, whose ATTRIBUTEMASK binds it).
//! * **Even a debug enclave's TCS is off limits to the kernel's reader beyond its first
//!   fields** (EDBGRD of a TCS only returns some fields), which does not matter here: the
//!   secret is in a data page.
//! * **Reading the EPC directly gives ciphertext**: the memory encryption engine encrypts
//!   enclave pages in DRAM, so a physical-memory dump (`/proc/kcore`, DMA, a VM host's view)
//!   sees no plaintext either; confidump does not attempt it.
//!
//! # How to confirm on SGX hardware
//!
//! ```text
//! confidump doctor                       # every SGX prerequisite ok
//! confidump victim --context sgx --mode plain --ready-file /tmp/sgx.ready &
//! confidump attack $(jq .pid /tmp/sgx.ready) --sha256 $(jq -r .secret_sha256 /tmp/sgx.ready)
//! confidump victim --context sgx --mode plain --debug-enclave ...   # the sgx-debug row
//! ```
//!
//! The residue check belongs with it: the host's staging copy is dropped before the ready
//! line, so a LEAK on `sgx` anywhere outside the enclave's range would be a confidump bug.

/// One expected outcome, for the runner's `[expect]` rows (kept as data so a test or the
/// runner can compare it with the scenario files).
pub const EXPECTED: &[(&str, [(&str, &str); 4])] = &[
    (
        "sgx",
        [
            ("dump", "unreadable"),
            ("gcore", "absent"),
            ("kernel", "absent"),
            ("live", "unreadable"),
        ],
    ),
    (
        "sgx-debug",
        [
            ("dump", "leak"),
            ("gcore", "absent"),
            ("kernel", "absent"),
            ("live", "leak"),
        ],
    ),
    (
        "sgx-sim",
        [
            ("dump", "leak"),
            ("gcore", "leak"),
            ("kernel", "leak"),
            ("live", "leak"),
        ],
    ),
];
