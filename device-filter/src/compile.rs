//! Rules → a `BPF_PROG_TYPE_CGROUP_DEVICE` program.
//!
//! The kernel runs the program with `r1` pointing at `struct bpf_cgroup_dev_ctx { u32
//! access_type; u32 major; u32 minor; }`, where `access_type` is `(BPF_DEVCG_ACC_* << 16) |
//! BPF_DEVCG_DEV_*`; it returns 1 to allow and 0 to deny. The program keeps the requested access
//! bits that no rule has decided yet in a register and walks the rules from last to first, so the
//! last rule naming a bit decides it (see [`crate::decide`]):
//!
//! ```text
//! r2 = ctx->access_type; r3 = r2 >> 16; r2 &= 0xffff   // r2 device type, r3 undecided bits
//! r4 = ctx->major; r5 = ctx->minor
//! for each rule, last first:
//!     if r2 != TYPE goto next; if r4 != MAJOR goto next; if r5 != MINOR goto next  // if set
//!     if r3 == 0 goto verdict          // no bit requested (access(F_OK)): this rule decides
//!     r1 = r3 & ACCESS; if r1 == 0 goto next
//!     deny rule:  r0 = 0; exit
//!     allow rule: r3 &= ~ACCESS; if r3 != 0 goto next; r0 = 1; exit
//!   next:
//! r0 = 0; exit
//! ```
//!
//! Every jump goes forward to the end of its own rule's block, so offsets stay small and every
//! instruction is reachable (the verifier rejects unreachable code).

use crate::insn::Insn;
use crate::rule::{Access, DeviceKind, Rule};

const REG_RESULT: u8 = 0;
/// The context pointer on entry; free as scratch once the context is read.
const REG_CTX: u8 = 1;
const REG_SCRATCH: u8 = 1;
const REG_TYPE: u8 = 2;
const REG_UNDECIDED: u8 = 3;
const REG_MAJOR: u8 = 4;
const REG_MINOR: u8 = 5;

/// Offsets in `struct bpf_cgroup_dev_ctx`.
pub(crate) const CTX_ACCESS_TYPE: i16 = 0;
pub(crate) const CTX_MAJOR: i16 = 4;
pub(crate) const CTX_MINOR: i16 = 8;

/// Compiles `rules` (OCI order: the last matching rule decides, default deny) into the
/// instructions of a cgroup device program. Pure; an empty list gives a program that denies
/// every device access.
pub fn compile(rules: &[Rule]) -> Vec<Insn> {
    let mut program = vec![
        Insn::load_u32(REG_TYPE, REG_CTX, CTX_ACCESS_TYPE),
        Insn::mov_reg(REG_UNDECIDED, REG_TYPE),
        Insn::rsh_imm(REG_UNDECIDED, 16),
        Insn::and_imm(REG_TYPE, 0xffff),
        Insn::load_u32(REG_MAJOR, REG_CTX, CTX_MAJOR),
        Insn::load_u32(REG_MINOR, REG_CTX, CTX_MINOR),
    ];
    for rule in rules.iter().rev() {
        if rule.access.is_empty() {
            continue;
        }
        program.extend(rule_block(rule));
        if rule.covers_everything() {
            break;
        }
    }
    program.extend(verdict(false));
    program
}

fn rule_block(rule: &Rule) -> Vec<Insn> {
    let mut block = Vec::with_capacity(13);
    let mut jumps_to_next = Vec::with_capacity(5);
    let mut jump_to_next = |block: &mut Vec<Insn>, insn: Insn| {
        jumps_to_next.push(block.len());
        block.push(insn);
    };
    let device_type = match rule.kind {
        DeviceKind::All => None,
        DeviceKind::Block => Some(crate::DeviceType::Block.bpf_code()),
        DeviceKind::Char => Some(crate::DeviceType::Char.bpf_code()),
    };
    for (register, wanted) in [
        (REG_TYPE, device_type),
        (REG_MAJOR, rule.major),
        (REG_MINOR, rule.minor),
    ] {
        if let Some(wanted) = wanted {
            // JMP32 compares the low 32 bits, so the bit pattern of the u32 is what counts.
            jump_to_next(&mut block, Insn::jne32_imm(register, wanted as i32));
        }
    }
    // Only a request that had no bit to begin with has none here: an allow rule that
    // decides the last undecided bit exits at once.
    let jump_to_verdict = block.len();
    block.push(Insn::jeq32_imm(REG_UNDECIDED, 0));
    block.push(Insn::mov_reg(REG_SCRATCH, REG_UNDECIDED));
    block.push(Insn::and_imm(REG_SCRATCH, i32::from(rule.access.bits())));
    jump_to_next(&mut block, Insn::jeq32_imm(REG_SCRATCH, 0));
    if rule.allow {
        let rest = Access::ALL.bits() & !rule.access.bits();
        block.push(Insn::and_imm(REG_UNDECIDED, i32::from(rest)));
        jump_to_next(&mut block, Insn::jne32_imm(REG_UNDECIDED, 0));
    }
    let verdict_at = block.len();
    block.extend(verdict(rule.allow));
    block[jump_to_verdict].off =
        i16::try_from(verdict_at - jump_to_verdict - 1).expect("a rule block is a few insns");
    let end = block.len();
    for index in jumps_to_next {
        block[index].off = i16::try_from(end - index - 1).expect("a rule block is a few insns");
    }
    block
}

fn verdict(allow: bool) -> [Insn; 2] {
    [Insn::mov_imm(REG_RESULT, i32::from(allow)), Insn::exit()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::opcode;
    use crate::rule::{decide, DeviceType};

    /// Runs `program` on one request as the kernel would, for the instructions `compile` emits.
    fn run(program: &[Insn], device: DeviceType, major: u32, minor: u32, access: Access) -> u64 {
        const CTX_BASE: u64 = 0x1000_0000;
        let ctx = [
            (u32::from(access.bits()) << 16) | device.bpf_code(),
            major,
            minor,
        ];
        let mut regs = [0u64; 11];
        regs[REG_CTX as usize] = CTX_BASE;
        let mut pc = 0usize;
        for _ in 0..=program.len() {
            let insn = program[pc];
            let (dst, src) = (insn.dst() as usize, insn.src() as usize);
            let imm64 = insn.imm as i64 as u64;
            pc += 1;
            match insn.code {
                opcode::LDX_MEM_W => {
                    let address = regs[src].wrapping_add(insn.off as i64 as u64);
                    let offset = address.wrapping_sub(CTX_BASE);
                    assert!(offset < 12 && offset % 4 == 0, "load outside the ctx");
                    regs[dst] = u64::from(ctx[offset as usize / 4]);
                }
                opcode::ALU64_MOV_K => regs[dst] = imm64,
                opcode::ALU64_MOV_X => regs[dst] = regs[src],
                opcode::ALU64_AND_K => regs[dst] &= imm64,
                opcode::ALU64_RSH_K => regs[dst] >>= insn.imm,
                opcode::JMP32_JEQ_K | opcode::JMP32_JNE_K => {
                    let equal = regs[dst] as u32 == insn.imm as u32;
                    if equal == (insn.code == opcode::JMP32_JEQ_K) {
                        pc = (pc as i64 + i64::from(insn.off)) as usize;
                    }
                }
                opcode::JMP_EXIT => return regs[REG_RESULT as usize],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
        panic!("program did not exit (forward jumps only, so it must)");
    }

    /// xorshift64: deterministic cases without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[(self.next() % items.len() as u64) as usize]
        }
    }

    const NUMBERS: [u32; 6] = [0, 1, 3, 5, 254, u32::MAX];

    fn random_rule(rng: &mut Rng) -> Rule {
        let number = |rng: &mut Rng| {
            if rng.next() % 3 == 0 {
                None
            } else {
                Some(rng.pick(&NUMBERS))
            }
        };
        Rule {
            allow: rng.next() % 3 != 0,
            kind: rng.pick(&[DeviceKind::All, DeviceKind::Block, DeviceKind::Char]),
            major: number(rng),
            minor: number(rng),
            access: Access::from_bits((rng.next() % 8) as u8).unwrap(),
        }
    }

    /// A device named by one of the rules half of the time, so that rules match often.
    fn random_request(rng: &mut Rng, rules: &[Rule]) -> (DeviceType, u32, u32) {
        let mut device = rng.pick(&[DeviceType::Block, DeviceType::Char]);
        let (mut major, mut minor) = (rng.pick(&NUMBERS), rng.pick(&NUMBERS));
        if !rules.is_empty() && rng.next() % 2 == 0 {
            let rule = rng.pick(rules);
            device = match rule.kind {
                DeviceKind::Block => DeviceType::Block,
                DeviceKind::Char => DeviceType::Char,
                DeviceKind::All => device,
            };
            major = rule.major.unwrap_or(major);
            minor = rule.minor.unwrap_or(minor);
        }
        (device, major, minor)
    }

    #[test]
    fn program_reads_the_ctx_and_ends_in_a_verdict() {
        let rules = [
            Rule::allow(DeviceKind::Char, Some(1), Some(3), Access::ALL),
            Rule::deny(DeviceKind::Block, None, Some(0), Access::MKNOD),
        ];
        let program = compile(&rules);
        let loads: Vec<(u8, u8, i16)> = program
            .iter()
            .filter(|insn| insn.code == opcode::LDX_MEM_W)
            .map(|insn| (insn.dst(), insn.src(), insn.off))
            .collect();
        assert_eq!(
            loads,
            [
                (REG_TYPE, REG_CTX, CTX_ACCESS_TYPE),
                (REG_MAJOR, REG_CTX, CTX_MAJOR),
                (REG_MINOR, REG_CTX, CTX_MINOR)
            ]
        );
        assert_eq!(program.last(), Some(&Insn::exit()));
        for (index, insn) in program.iter().enumerate() {
            match insn.code {
                opcode::JMP32_JEQ_K | opcode::JMP32_JNE_K => {
                    let target = index as i64 + 1 + i64::from(insn.off);
                    assert!(insn.off >= 0, "backward jump at {index}");
                    assert!(
                        target < program.len() as i64,
                        "jump out of range at {index}"
                    );
                }
                opcode::JMP_EXIT => {
                    let before = program[index - 1];
                    assert_eq!(before.code, opcode::ALU64_MOV_K);
                    assert_eq!(before.dst(), REG_RESULT);
                    assert!(before.imm == 0 || before.imm == 1);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn empty_list_compiles_to_deny_everything() {
        let program = compile(&[]);
        assert_eq!(program.len(), 8);
        assert_eq!(&program[6..], &verdict(false));
        assert_eq!(run(&program, DeviceType::Char, 1, 3, Access::READ), 0);
    }

    #[test]
    fn rules_before_a_rule_that_covers_everything_are_not_emitted() {
        let tail = Rule::deny(DeviceKind::All, None, None, Access::ALL);
        let alone = compile(&[tail]);
        let with_dead_rules = compile(&[
            Rule::allow(DeviceKind::Char, Some(1), Some(3), Access::ALL),
            tail,
        ]);
        assert_eq!(alone, with_dead_rules);
    }

    #[test]
    fn device_numbers_beyond_i32_compare_exactly() {
        let rules = [Rule::allow(
            DeviceKind::Char,
            Some(u32::MAX),
            Some(0x8000_0000),
            Access::READ,
        )];
        let program = compile(&rules);
        assert_eq!(
            run(
                &program,
                DeviceType::Char,
                u32::MAX,
                0x8000_0000,
                Access::READ
            ),
            1
        );
        assert_eq!(
            run(&program, DeviceType::Char, u32::MAX, 0, Access::READ),
            0
        );
    }

    #[test]
    fn the_program_decides_as_the_rules_say() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut allowed = 0;
        let mut cases = 0;
        for _ in 0..3000 {
            let count = (rng.next() % 7) as usize;
            let rules: Vec<Rule> = (0..count).map(|_| random_rule(&mut rng)).collect();
            let program = compile(&rules);
            for _ in 0..40 {
                let (device, major, minor) = random_request(&mut rng, &rules);
                let access = Access::from_bits((rng.next() % 8) as u8).unwrap();
                let expected = decide(&rules, device, major, minor, access);
                let got = run(&program, device, major, minor, access);
                assert_eq!(
                    got,
                    u64::from(expected),
                    "rules {rules:?}, request {device:?} {major}:{minor} {access}"
                );
                allowed += usize::from(expected);
                cases += 1;
            }
        }
        // The generator must produce both outcomes in bulk, or the comparison proves little.
        assert!(
            allowed > cases / 10 && allowed < cases * 9 / 10,
            "{allowed}/{cases}"
        );
    }
}
