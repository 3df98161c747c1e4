//! The enclave's code page: 196 bytes of x86-64 written by hand, with the assembly beside
//! each instruction (checked with GNU `as`/`objdump -d -M intel` when written).
//!
//! # Calling convention
//!
//! The host enters with `__vdso_sgx_enter_enclave(rdi, rsi, rdx, EENTER, r8, r9, run)`. EENTER
//! leaves RBX = the TCS's address (the TCS is the first page, so RBX is the enclave's base) and
//! RCX = the address to go back to; RDI, RSI, RDX and R9 arrive as the host set them.
//!
//! | RDI | command | RSI | RDX | R9 (untrusted `u64`) receives |
//! |---|---|---|---|---|
//! | [`CMD_STORE`] | copy the secret in | untrusted source | length | the length stored, or `u64::MAX` if refused |
//! | [`CMD_USE`]   | checksum the secret | - | - | how many times it was used |
//!
//! The checksum itself stays in the data page: nothing derived from the secret leaves the
//! enclave, and every register that held secret bytes is cleared before EEXIT (a register
//! that leaves the enclave holding secret bytes is spilled to an ordinary stack by whatever
//! runs next: the residue lesson). Untrusted pointers are checked to lie outside the enclave
//! (ELRANGE is [`super::layout::ENCLAVE_SIZE`] bytes from RBX), so a caller cannot make the
//! enclave copy its own memory out. The code uses no stack.

/// Command in RDI: copy `RDX` bytes from untrusted `RSI` into the data page.
pub const CMD_STORE: u64 = 1;
/// Command in RDI: checksum the stored secret (once), count the use.
pub const CMD_USE: u64 = 2;

/// Offset of the data area's header inside the data pages: `u64` length, `u64` checksum,
/// `u64` use counter; the secret's bytes follow at [`SECRET_AT`].
pub const SECRET_AT: u64 = 0x40;

/// Largest secret the code accepts (two data pages less the header); the `cmp rdx, 0x1fc0`
/// below must agree (a unit test checks it).
pub const MAX_SECRET: usize = 0x1fc0;

/// Offset of the final `enclu` (EEXIT) in [`CODE`]: the simulation mode replaces it with a
/// plain jump, as an SDK's simulation runtime replaces ENCLU with software.
pub const EEXIT_AT: usize = 0xc1;

/// The code page's instructions (the rest of the page is zero). Generated from the assembly
/// in the comments with GNU `as` and `objdump -d -M intel`.
#[rustfmt::skip]
pub const CODE: [u8; 0xc6] = [
    // entry: RBX = enclave base (the TCS), RCX = where EEXIT returns to
    0x4c, 0x8d, 0x83, 0x00, 0x30, 0x00, 0x00,  // 00 lea r8,[rbx+0x3000]
    0x4d, 0x8d, 0x59, 0x08,                    // 07 lea r11,[r9+0x8]            ; end of the status word
    0x49, 0x29, 0xdb,                          // 0b sub r11,rbx
    0x49, 0x81, 0xfb, 0x08, 0x80, 0x00, 0x00,  // 0e cmp r11,0x8008              ; inside ELRANGE (+8)? do nothing
    0x0f, 0x82, 0x8a, 0x00, 0x00, 0x00,        // 15 jb a5 <out>
    0x48, 0x83, 0xff, 0x01,                    // 1b cmp rdi,0x1
    0x74, 0x08,                                // 1f je 29 <store>
    0x48, 0x83, 0xff, 0x02,                    // 21 cmp rdi,0x2
    0x74, 0x4c,                                // 25 je 73 <use>
    0xeb, 0x7c,                                // 27 jmp a5 <out>
    // store: RSI = untrusted source, RDX = length; refuse if too long or overlapping ELRANGE
    0x48, 0x81, 0xfa, 0xc0, 0x1f, 0x00, 0x00,  // 29 cmp rdx,0x1fc0              ; MAX_SECRET
    0x77, 0x38,                                // 30 ja 6a <refuse>
    0x49, 0x89, 0xf3,                          // 32 mov r11,rsi
    0x49, 0x29, 0xdb,                          // 35 sub r11,rbx
    0x49, 0x81, 0xfb, 0x00, 0x80, 0x00, 0x00,  // 38 cmp r11,0x8000              ; source starts inside ELRANGE?
    0x72, 0x29,                                // 3f jb 6a <refuse>
    0x49, 0x89, 0xdb,                          // 41 mov r11,rbx
    0x49, 0x29, 0xf3,                          // 44 sub r11,rsi
    0x49, 0x39, 0xd3,                          // 47 cmp r11,rdx                 ; source runs into it?
    0x72, 0x1e,                                // 4a jb 6a <refuse>
    0x49, 0x89, 0x10,                          // 4c mov qword [r8],rdx          ; stored length
    0x31, 0xc0,                                // 4f xor eax,eax
    // copy:
    0x48, 0x39, 0xd0,                          // 51 cmp rax,rdx
    0x73, 0x0f,                                // 54 jae 65 <stored>
    0x44, 0x0f, 0xb6, 0x14, 0x06,              // 56 movzx r10d,byte [rsi+rax]
    0x45, 0x88, 0x54, 0x00, 0x40,              // 5b mov byte [r8+rax+0x40],r10b
    0x48, 0xff, 0xc0,                          // 60 inc rax
    0xeb, 0xec,                                // 63 jmp 51 <copy>
    // stored:
    0x49, 0x89, 0x11,                          // 65 mov qword [r9],rdx          ; status = length
    0xeb, 0x3b,                                // 68 jmp a5 <out>
    // refuse:
    0x49, 0xc7, 0x01, 0xff, 0xff, 0xff, 0xff,  // 6a mov qword [r9],0xffffffffffffffff
    0xeb, 0x32,                                // 71 jmp a5 <out>
    // use: checksum the stored bytes into the data page, count the use
    0x49, 0x8b, 0x10,                          // 73 mov rdx,qword [r8]
    0x4d, 0x8b, 0x50, 0x08,                    // 76 mov r10,qword [r8+0x8]
    0x31, 0xc0,                                // 7a xor eax,eax
    // sum:
    0x48, 0x39, 0xd0,                          // 7c cmp rax,rdx
    0x73, 0x12,                                // 7f jae 93 <summed>
    0x45, 0x0f, 0xb6, 0x5c, 0x00, 0x40,        // 81 movzx r11d,byte [r8+rax+0x40]
    0x49, 0xc1, 0xc2, 0x05,                    // 87 rol r10,0x5
    0x4d, 0x01, 0xda,                          // 8b add r10,r11
    0x48, 0xff, 0xc0,                          // 8e inc rax
    0xeb, 0xe9,                                // 91 jmp 7c <sum>
    // summed:
    0x4d, 0x89, 0x50, 0x08,                    // 93 mov qword [r8+0x8],r10      ; the checksum stays inside
    0x49, 0x8b, 0x40, 0x10,                    // 97 mov rax,qword [r8+0x10]
    0x48, 0xff, 0xc0,                          // 9b inc rax
    0x49, 0x89, 0x40, 0x10,                    // 9e mov qword [r8+0x10],rax
    0x49, 0x89, 0x01,                          // a2 mov qword [r9],rax          ; status = uses
    // out: clear every register that held secret bytes or enclave addresses, then EEXIT
    0x31, 0xc0,                                // a5 xor eax,eax
    0x31, 0xd2,                                // a7 xor edx,edx
    0x31, 0xf6,                                // a9 xor esi,esi
    0x31, 0xff,                                // ab xor edi,edi
    0x45, 0x31, 0xc0,                          // ad xor r8d,r8d
    0x45, 0x31, 0xc9,                          // b0 xor r9d,r9d
    0x45, 0x31, 0xd2,                          // b3 xor r10d,r10d
    0x45, 0x31, 0xdb,                          // b6 xor r11d,r11d
    0x48, 0x89, 0xcb,                          // b9 mov rbx,rcx                 ; EEXIT target
    0xb8, 0x04, 0x00, 0x00, 0x00,              // bc mov eax,0x4                 ; ENCLU leaf 4: EEXIT
    0x0f, 0x01, 0xd7,                          // c1 enclu
    0x0f, 0x0b,                                // c4 ud2                         ; never reached
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_agree_with_the_bytes() {
        // ENCLU at EEXIT_AT, preceded by `mov eax, 4`.
        assert_eq!(&CODE[EEXIT_AT..EEXIT_AT + 3], &[0x0f, 0x01, 0xd7]);
        assert_eq!(&CODE[EEXIT_AT - 5..EEXIT_AT], &[0xb8, 0x04, 0, 0, 0]);
        // `cmp rdx, MAX_SECRET` and the data page offset.
        let max = u32::try_from(MAX_SECRET).unwrap().to_le_bytes();
        assert_eq!(&CODE[0x2c..0x30], &max);
        let data = u32::try_from(crate::sgx::layout::DATA_OFFSET)
            .unwrap()
            .to_le_bytes();
        assert_eq!(&CODE[0x03..0x07], &data);
        // ELRANGE size in both range checks.
        let size = u32::try_from(crate::sgx::layout::ENCLAVE_SIZE).unwrap();
        assert_eq!(&CODE[0x3b..0x3f], &size.to_le_bytes());
        assert_eq!(&CODE[0x11..0x15], &(size + 8).to_le_bytes());
        // The secret's offset in the data page (disp8 of both byte moves).
        assert_eq!(u64::from(CODE[0x5f]), SECRET_AT);
        assert_eq!(u64::from(CODE[0x86]), SECRET_AT);
        assert_eq!(MAX_SECRET as u64 + SECRET_AT, 2 * 4096);
    }
}
