//! eBPF instructions: the `struct bpf_insn` layout and the few opcodes the filter uses.

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Insn {
    pub code: u8,
    /// Destination register in the low nibble, source register in the high nibble.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const _: () = assert!(std::mem::size_of::<Insn>() == 8);

impl Insn {
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | (dst & 0x0f),
            off,
            imm,
        }
    }

    pub const fn dst(&self) -> u8 {
        self.regs & 0x0f
    }

    pub const fn src(&self) -> u8 {
        self.regs >> 4
    }

    pub(crate) const fn load_u32(dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(opcode::LDX_MEM_W, dst, src, off, 0)
    }

    pub(crate) const fn mov_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(opcode::ALU64_MOV_K, dst, 0, 0, imm)
    }

    pub(crate) const fn mov_reg(dst: u8, src: u8) -> Insn {
        Insn::new(opcode::ALU64_MOV_X, dst, src, 0, 0)
    }

    pub(crate) const fn and_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(opcode::ALU64_AND_K, dst, 0, 0, imm)
    }

    pub(crate) const fn rsh_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(opcode::ALU64_RSH_K, dst, 0, 0, imm)
    }

    /// `if (u32)dst == (u32)imm goto +off`; the offset is patched once the target is known.
    pub(crate) const fn jeq32_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(opcode::JMP32_JEQ_K, dst, 0, 0, imm)
    }

    /// `if (u32)dst != (u32)imm goto +off`; the offset is patched once the target is known.
    pub(crate) const fn jne32_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(opcode::JMP32_JNE_K, dst, 0, 0, imm)
    }

    pub(crate) const fn exit() -> Insn {
        Insn::new(opcode::JMP_EXIT, 0, 0, 0, 0)
    }
}

/// The opcodes [`crate::compile`] emits: class (`BPF_LDX` 0x01, `BPF_JMP` 0x05, `BPF_JMP32` 0x06,
/// `BPF_ALU64` 0x07) | operation | source (`BPF_K` 0x00 immediate, `BPF_X` 0x08 register).
pub mod opcode {
    /// `BPF_LDX | BPF_MEM | BPF_W`: `dst = *(u32 *)(src + off)`.
    pub const LDX_MEM_W: u8 = 0x61;
    /// `BPF_ALU64 | BPF_MOV | BPF_K`.
    pub const ALU64_MOV_K: u8 = 0xb7;
    /// `BPF_ALU64 | BPF_MOV | BPF_X`.
    pub const ALU64_MOV_X: u8 = 0xbf;
    /// `BPF_ALU64 | BPF_AND | BPF_K`.
    pub const ALU64_AND_K: u8 = 0x57;
    /// `BPF_ALU64 | BPF_RSH | BPF_K`.
    pub const ALU64_RSH_K: u8 = 0x77;
    /// `BPF_JMP32 | BPF_JEQ | BPF_K`: compares the low 32 bits, so every `u32` device number
    /// fits the immediate exactly.
    pub const JMP32_JEQ_K: u8 = 0x16;
    /// `BPF_JMP32 | BPF_JNE | BPF_K`.
    pub const JMP32_JNE_K: u8 = 0x56;
    /// `BPF_JMP | BPF_EXIT`.
    pub const JMP_EXIT: u8 = 0x95;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_pack_as_in_struct_bpf_insn() {
        let insn = Insn::new(opcode::ALU64_MOV_X, 3, 2, -1, 7);
        assert_eq!(insn.regs, 0x23);
        assert_eq!((insn.dst(), insn.src()), (3, 2));
        // SAFETY: Insn is repr(C), 8 bytes, without padding.
        let bytes: [u8; 8] = unsafe { std::mem::transmute(insn) };
        assert_eq!(bytes, [0xbf, 0x23, 0xff, 0xff, 7, 0, 0, 0]);
    }
}
