//! What each attack path should give against confidump's enclave on SGX hardware, and the
//! kernel source that decides it. Written here, next to the loader that would meet them, so a
//! run on an SGX machine (Azure DCsv3/DCdsv3, or any Linux >= 5.11 host with SGX and flexible
//! launch control) can confirm or refute each line. **None of this was run on this project's
//! machines, which have no SGX**; the table is derived from the sources cited.
//!
//! | path | production enclave (`sgx`) | debug enclave (`sgx-debug`) | `sgx-sim` |
//! |---|---|---|---|
//! | `dump` (confidump's own: `process_vm_readv`, then `/proc/PID/mem`) | `????`: EFAULT, then EIO | LEAK: the `/proc/PID/mem` retry is served by EDBGRD | LEAK |
//! | `gcore` (gdb) | absent: never dumped, even with `-a` | absent | LEAK |
//! | `kernel` core dump | absent: a `PT_LOAD` with no file bytes | absent | LEAK |
//! | `live` (`process_vm_readv`, then `/proc/PID/mem`) | `????`: EFAULT, then EIO | LEAK (the retry) | LEAK |
//!
//! # The source lines that decide it
//!
//! Checked against the kernel and gdb sources (Linux 6.x: `arch/x86/kernel/cpu/sgx/driver.c`
//! and `encl.c`, `mm/gup.c`, `mm/process_vm_access.c`, `mm/memory.c`, `fs/proc/base.c`,
//! `fs/coredump.c`; gdb 13+: `gdb/linux-tdep.c`). Quoted as the sources have them.
//!
//! * **The enclave's mapping is `VM_IO | VM_PFNMAP | VM_DONTDUMP`.** `driver.c`, `sgx_mmap()`:
//!   `vm_flags_set(vma, VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP | VM_IO);`
//!   (before 6.3: `vma->vm_flags |= VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP | VM_IO;`).
//! * **Kernel core dumps leave it out.** `fs/coredump.c` (`fs/binfmt_elf.c` before 5.10),
//!   `vma_dump_size()`: `if (vma->vm_flags & VM_DONTDUMP) return 0;` comes first (and, for
//!   `VM_IO`, `/* Do not dump I/O mapped devices or special mappings */ if (vma->vm_flags &
//!   VM_IO) return 0;`). The segment is written with a dump size of 0: a `PT_LOAD` with
//!   `p_filesz = 0`, so "absent", never `????`.
//! * **gdb's gcore leaves it out, even with `-a`.** `linux-tdep.c`, `dump_mapping_p()` reads
//!   `VmFlags` from `/proc/PID/smaps`: `/* We never dump I/O mappings.  */ if (v->io_page)
//!   return 0;` is checked before `if (!dump_excluded_mappings && v->exclude_coredump) return
//!   0;` — `gcore -a` (`set dump-excluded-mappings on`) only lifts the second (`dd`), never the
//!   first (`io`). (FACTS.md: "left out even with -a (VM_IO)".)
//! * **`process_vm_readv` fails with EFAULT, debug or not.** `process_vm_rw_single_vec()`
//!   pins the pages with `pin_user_pages_remote()` and `if (pinned_pages <= 0) return
//!   -EFAULT;`; the pin fails in `check_vma_flags()` (`mm/gup.c`): `if (vm_flags & (VM_IO |
//!   VM_PFNMAP)) return -EFAULT;`. confidump's reader then retries through `/proc/PID/mem`.
//! * **`/proc/PID/mem` asks the driver, which refuses a production enclave with EIO.**
//!   `mem_rw()` (`fs/proc/base.c`) calls `access_remote_vm()`; in `__access_remote_vm()`
//!   (`mm/memory.c`) the failed `get_user_pages_remote()` falls back to
//!   `vma->vm_ops->access(vma, addr, buf, len, write)` (compiled in with
//!   `CONFIG_HAVE_IOREMAP_PROT`, which x86 selects), i.e. `sgx_vma_access()` in `encl.c`:
//!   `if (!test_bit(SGX_ENCL_DEBUG, &encl->flags)) return -EFAULT;` (since 6.2 also when the
//!   enclave was OOM-killed: `SGX_ENCL_NO_MEMORY`). A transfer of 0 bytes becomes
//!   `if (!copied) copied = -EIO;` in `mem_rw()`: root's read fails with **EIO**, the errno
//!   confidump shows (gdb attached live says "Cannot access memory at address …").
//! * **A debug enclave is read in plaintext.** For `SGX_ENCL_DEBUG`, `sgx_vma_access()` goes on
//!   to `sgx_encl_debug_read()`, which runs `__edbgrd(...)` (ENCLS[EDBGRD]) word by word: the
//!   CPU decrypts the page for the kernel. `SGX_ENCL_DEBUG` is set in `sgx_encl_create()`
//!   (`ioctl.c`) when `secs->attributes & SGX_ATTR_DEBUG`, i.e. exactly when `--debug-enclave`
//!   set ATTRIBUTES.DEBUG in the SECS (and the SIGSTRUCT, whose ATTRIBUTEMASK binds it).
//! * **A forked child's copy of the mapping refuses everything** (`if (!encl) return
//!   -EFAULT;`: "If process was forked, VMA is still there but vm_private_data is set to
//!   NULL"), which matters to a fork-based snapshot dumper: it must read the enclave range from
//!   the parent, where a production enclave refuses it anyway.
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
