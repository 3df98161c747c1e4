//! The kernel's SGX interface, transcribed from `arch/x86/include/uapi/asm/sgx.h` (Linux
//! 5.11+): the ioctl argument structs of `/dev/sgx_enclave`, their request numbers, and
//! `struct sgx_enclave_run` for `__vdso_sgx_enter_enclave`. Sizes are checked at compile time.
//!
//! ```c
//! #define SGX_MAGIC 0xA4
//! #define SGX_IOC_ENCLAVE_CREATE    _IOW(SGX_MAGIC, 0x00, struct sgx_enclave_create)
//! #define SGX_IOC_ENCLAVE_ADD_PAGES _IOWR(SGX_MAGIC, 0x01, struct sgx_enclave_add_pages)
//! #define SGX_IOC_ENCLAVE_INIT      _IOW(SGX_MAGIC, 0x02, struct sgx_enclave_init)
//! struct sgx_enclave_create    { __u64 src; };
//! struct sgx_enclave_add_pages { __u64 src, offset, length, secinfo, flags, count; };
//! struct sgx_enclave_init      { __u64 sigstruct; };
//! enum sgx_page_flags { SGX_PAGE_MEASURE = 0x01 };
//! struct sgx_enclave_run { __u64 tcs; __u32 function; __u16 exception_vector;
//!     __u16 exception_error_code; __u64 exception_addr; __u64 user_handler;
//!     __u64 user_data; __u8 reserved[216]; };
//! ```

/// `SGX_MAGIC`, the ioctl type byte.
pub const SGX_MAGIC: u8 = 0xA4;

/// `struct sgx_enclave_create`: the address of a SECS page for ECREATE.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SgxEnclaveCreate {
    /// User address of the SECS.
    pub src: u64,
}

/// `struct sgx_enclave_add_pages`: EADD (and EEXTEND with [`SGX_PAGE_MEASURE`]) of `length`
/// bytes from page-aligned `src` at `offset` in the enclave. The kernel advances `count`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SgxEnclaveAddPages {
    /// User address of the page data (page-aligned).
    pub src: u64,
    /// Offset inside ELRANGE (page-aligned).
    pub offset: u64,
    /// Bytes to add (a multiple of the page size).
    pub length: u64,
    /// User address of a SECINFO (64-byte aligned).
    pub secinfo: u64,
    /// [`SGX_PAGE_MEASURE`] or 0.
    pub flags: u64,
    /// Out: bytes added so far.
    pub count: u64,
}

/// `struct sgx_enclave_init`: the address of a SIGSTRUCT for EINIT.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SgxEnclaveInit {
    /// User address of the SIGSTRUCT.
    pub sigstruct: u64,
}

/// `SGX_PAGE_MEASURE`: EEXTEND every 256-byte chunk of the added pages.
pub const SGX_PAGE_MEASURE: u64 = 0x01;

/// `struct sgx_enclave_run`, the last argument of `__vdso_sgx_enter_enclave`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SgxEnclaveRun {
    /// Address of the TCS to enter with.
    pub tcs: u64,
    /// Out: the ENCLU leaf at exit (EEXIT, or the leaf during which an exception hit).
    pub function: u32,
    /// Out: exception vector, when the enclave faulted.
    pub exception_vector: u16,
    /// Out: exception error code.
    pub exception_error_code: u16,
    /// Out: faulting address.
    pub exception_addr: u64,
    /// Optional exit handler (0: none).
    pub user_handler: u64,
    /// Passed to the exit handler.
    pub user_data: u64,
    /// Must be zero.
    pub reserved: [u8; 216],
}

impl SgxEnclaveRun {
    /// A run struct for entering through `tcs`, no exit handler.
    pub fn new(tcs: u64) -> Self {
        Self {
            tcs,
            function: 0,
            exception_vector: 0,
            exception_error_code: 0,
            exception_addr: 0,
            user_handler: 0,
            user_data: 0,
            reserved: [0; 216],
        }
    }
}

/// ENCLU leaf EENTER (the `function` argument of the vDSO call).
pub const EENTER: u32 = 2;
/// ENCLU leaf ERESUME.
pub const ERESUME: u32 = 3;
/// ENCLU leaf EEXIT (what `function` says after a normal exit).
pub const EEXIT: u32 = 4;

const _: () = assert!(std::mem::size_of::<SgxEnclaveCreate>() == 8);
const _: () = assert!(std::mem::size_of::<SgxEnclaveAddPages>() == 48);
const _: () = assert!(std::mem::size_of::<SgxEnclaveInit>() == 8);
const _: () = assert!(std::mem::size_of::<SgxEnclaveRun>() == 256);
const _: () = assert!(std::mem::size_of::<sgx_isa::Secs>() == 4096);
const _: () = assert!(std::mem::size_of::<sgx_isa::Secinfo>() == 64);
const _: () = assert!(std::mem::align_of::<sgx_isa::Secinfo>() == 64);
const _: () = assert!(sgx_isa::Sigstruct::UNPADDED_SIZE == 1808);

/// `SGX_IOC_ENCLAVE_CREATE` = `_IOW(0xA4, 0x00, struct sgx_enclave_create)`.
pub const SGX_IOC_ENCLAVE_CREATE: u64 =
    nix::request_code_write!(SGX_MAGIC, 0x00, std::mem::size_of::<SgxEnclaveCreate>()) as u64;
/// `SGX_IOC_ENCLAVE_ADD_PAGES` = `_IOWR(0xA4, 0x01, struct sgx_enclave_add_pages)`.
pub const SGX_IOC_ENCLAVE_ADD_PAGES: u64 =
    nix::request_code_readwrite!(SGX_MAGIC, 0x01, std::mem::size_of::<SgxEnclaveAddPages>()) as u64;
/// `SGX_IOC_ENCLAVE_INIT` = `_IOW(0xA4, 0x02, struct sgx_enclave_init)`.
pub const SGX_IOC_ENCLAVE_INIT: u64 =
    nix::request_code_write!(SGX_MAGIC, 0x02, std::mem::size_of::<SgxEnclaveInit>()) as u64;

nix::ioctl_write_ptr!(
    /// `ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &arg)`.
    enclave_create,
    SGX_MAGIC,
    0x00,
    SgxEnclaveCreate
);
nix::ioctl_readwrite!(
    /// `ioctl(fd, SGX_IOC_ENCLAVE_ADD_PAGES, &mut arg)`.
    enclave_add_pages,
    SGX_MAGIC,
    0x01,
    SgxEnclaveAddPages
);
nix::ioctl_write_ptr!(
    /// `ioctl(fd, SGX_IOC_ENCLAVE_INIT, &arg)`; a positive result is an ENCLS error code.
    enclave_init,
    SGX_MAGIC,
    0x02,
    SgxEnclaveInit
);

/// Names of the SGX error codes EINIT can return (SDM vol. 3D, "Error codes"), as the kernel
/// passes them back as a positive ioctl result.
pub fn einit_error_name(code: i32) -> &'static str {
    match code {
        1 => "SGX_INVALID_SIG_STRUCT",
        2 => "SGX_INVALID_ATTRIBUTE",
        4 => "SGX_INVALID_MEASUREMENT",
        8 => "SGX_INVALID_SIGNATURE",
        16 => "SGX_INVALID_EINITTOKEN (launch control refused the signer)",
        32 => "SGX_INVALID_CPUSVN",
        64 => "SGX_UNMASKED_EVENT",
        _ => "unknown SGX error code",
    }
}
