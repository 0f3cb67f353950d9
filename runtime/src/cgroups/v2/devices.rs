//! Device rules on cgroup v2: an eBPF `BPF_PROG_TYPE_CGROUP_DEVICE` program generated from the rule list.
//!
//! Semantics follow v1's in-order writes: the last rule that matches a request decides. An allow rule matches
//! when the request's access bits are a subset of the rule's; a deny rule matches when they overlap. A request
//! that no rule matches is allowed (v1's initial state); configs start with a deny-all rule to get default deny.
//! The program checks rules from last to first and returns at the first match.

use std::path::Path;

use oci_spec::runtime::LinuxDeviceCgroup;

use super::super::device_rules::{
    rules_from_spec, DevKind, DeviceRule, ACC_MKNOD, ACC_READ, ACC_WRITE,
};
use super::super::CgroupError;
use super::bpf;

/// One eBPF instruction, in the kernel's `struct bpf_insn` layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register (low nibble) and source register (high nibble).
    pub regs: u8,
    /// Jump offset or memory offset.
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU64_AND_K: u8 = 0x57;
const ALU64_RSH_K: u8 = 0x77;
const ALU64_MOV_K: u8 = 0xb7;
const ALU64_MOV_X: u8 = 0xbf;
const JMP_JEQ_K: u8 = 0x15;
const JMP_JNE_K: u8 = 0x55;
const JMP_EXIT: u8 = 0x95;

// Registers: r1 = ctx, r2 = device type, r3 = access, r4 = major, r5 = minor, r0 = scratch/result.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// Loads the request fields from `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`.
fn prologue() -> Vec<Insn> {
    vec![
        insn(LDX_MEM_W, R2, R1, 0, 0),
        insn(ALU64_AND_K, R2, 0, 0, 0xffff), // type: low 16 bits
        insn(LDX_MEM_W, R3, R1, 0, 0),
        insn(ALU64_RSH_K, R3, 0, 0, 16), // access: high 16 bits
        insn(LDX_MEM_W, R4, R1, 4, 0),
        insn(LDX_MEM_W, R5, R1, 8, 0),
    ]
}

/// Conditions of one rule as (instructions, index of each jump that must skip to the next rule).
fn rule_checks(rule: &DeviceRule) -> Vec<Insn> {
    let mut out = Vec::new();
    match rule.kind {
        DevKind::All => {}
        DevKind::Block => out.push(insn(JMP_JNE_K, R2, 0, 0, 1)),
        DevKind::Char => out.push(insn(JMP_JNE_K, R2, 0, 0, 2)),
    }
    let all = (ACC_MKNOD | ACC_READ | ACC_WRITE) as i32;
    let acc = rule.access as i32;
    if rule.allow && acc != all {
        // Request must not ask for anything outside the rule's access.
        out.push(insn(ALU64_MOV_X, R0, R3, 0, 0));
        out.push(insn(ALU64_AND_K, R0, 0, 0, !acc & all));
        out.push(insn(JMP_JNE_K, R0, 0, 0, 0));
    } else if !rule.allow && acc != all {
        // Request must ask for something the rule denies.
        out.push(insn(ALU64_MOV_X, R0, R3, 0, 0));
        out.push(insn(ALU64_AND_K, R0, 0, 0, acc));
        out.push(insn(JMP_JEQ_K, R0, 0, 0, 0));
    }
    if let Some(m) = rule.major {
        out.push(insn(JMP_JNE_K, R4, 0, 0, m as i32));
    }
    if let Some(m) = rule.minor {
        out.push(insn(JMP_JNE_K, R5, 0, 0, m as i32));
    }
    out
}

/// Generates the program for `rules` (see the module comment for the semantics).
pub fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    let mut prog = prologue();
    let mut unconditional = false;
    for rule in rules.iter().rev() {
        let checks = rule_checks(rule);
        let verdict = [
            insn(ALU64_MOV_K, R0, 0, 0, i32::from(rule.allow)),
            insn(JMP_EXIT, 0, 0, 0, 0),
        ];
        let block_len = checks.len() + verdict.len();
        for (i, mut c) in checks.iter().copied().enumerate() {
            // Every check is a conditional jump; its target is the first instruction after this block.
            if c.code == JMP_JNE_K || c.code == JMP_JEQ_K {
                c.off = (block_len - i - 1) as i16;
            }
            prog.push(c);
        }
        prog.extend(verdict);
        if checks.is_empty() {
            // This rule matches every request: later code would be unreachable, which the verifier rejects.
            unconditional = true;
            break;
        }
    }
    if !unconditional {
        prog.push(insn(ALU64_MOV_K, R0, 0, 0, 1));
        prog.push(insn(JMP_EXIT, 0, 0, 0, 0));
    }
    prog
}

/// Evaluates the same semantics in Rust: used by tests to check `program` against expectations.
pub fn decide(rules: &[DeviceRule], kind: DevKind, major: u32, minor: u32, access: u32) -> bool {
    for r in rules.iter().rev() {
        let kind_ok = r.kind == DevKind::All || r.kind == kind;
        let acc_ok = if r.allow {
            access & !r.access == 0
        } else {
            access & r.access != 0
        };
        if kind_ok
            && acc_ok
            && r.major.is_none_or(|m| m == major)
            && r.minor.is_none_or(|m| m == minor)
        {
            return r.allow;
        }
    }
    true
}

/// Loads the program for `spec` and attaches it to the cgroup directory `dir`, replacing an earlier one.
pub(crate) fn apply(dir: &Path, spec: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    let rules = rules_from_spec(spec)?;
    if rules.is_empty() {
        return Ok(());
    }
    let prog = program(&rules);
    bpf::load_and_attach_device_program(dir, &prog)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny interpreter for the instructions `program` emits, to check the generated code without root.
    fn run(prog: &[Insn], kind: DevKind, major: u32, minor: u32, access: u32) -> u64 {
        let t: u64 = match kind {
            DevKind::Block => 1,
            DevKind::Char => 2,
            DevKind::All => unreachable!(),
        };
        let ctx = [
            t | (u64::from(access) << 16),
            u64::from(major),
            u64::from(minor),
        ];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (d, s) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(s, 1);
                    r[d] = ctx[(i.off / 4) as usize];
                }
                ALU64_AND_K => r[d] &= i.imm as i64 as u64,
                ALU64_RSH_K => r[d] >>= i.imm,
                ALU64_MOV_K => r[d] = i.imm as i64 as u64,
                ALU64_MOV_X => r[d] = r[s],
                JMP_JEQ_K if r[d] == i.imm as i64 as u64 => {
                    pc = (pc as i64 + i64::from(i.off)) as usize
                }
                JMP_JNE_K if r[d] != i.imm as i64 as u64 => {
                    pc = (pc as i64 + i64::from(i.off)) as usize
                }
                JMP_JEQ_K | JMP_JNE_K => {}
                JMP_EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    fn rule(
        allow: bool,
        kind: DevKind,
        major: Option<u32>,
        minor: Option<u32>,
        access: u32,
    ) -> DeviceRule {
        DeviceRule {
            allow,
            kind,
            major,
            minor,
            access,
        }
    }

    #[test]
    fn program_matches_reference_semantics() {
        let rwm = ACC_READ | ACC_WRITE | ACC_MKNOD;
        let rule_sets = vec![
            vec![],
            // containerd's default: deny all, then the usual allow-list.
            vec![
                rule(false, DevKind::All, None, None, rwm),
                rule(true, DevKind::Char, Some(1), Some(3), rwm),
                rule(true, DevKind::Char, Some(1), Some(5), ACC_READ | ACC_WRITE),
                rule(true, DevKind::Char, Some(136), None, ACC_READ | ACC_WRITE),
                rule(true, DevKind::Char, None, None, ACC_MKNOD),
                rule(true, DevKind::Block, None, None, ACC_MKNOD),
            ],
            vec![
                rule(true, DevKind::All, None, None, rwm),
                rule(false, DevKind::Block, Some(8), None, ACC_WRITE),
            ],
            vec![rule(false, DevKind::Char, Some(1), Some(3), ACC_READ)],
        ];
        for rules in &rule_sets {
            let prog = program(rules);
            for kind in [DevKind::Block, DevKind::Char] {
                for (maj, min) in [(1, 3), (1, 5), (136, 7), (8, 0), (10, 200)] {
                    for acc in 1..=7 {
                        let want = decide(rules, kind, maj, min, acc);
                        let got = run(&prog, kind, maj, min, acc) == 1;
                        assert_eq!(got, want, "{rules:?} {kind:?} {maj}:{min} acc={acc}");
                    }
                }
            }
        }
    }

    #[test]
    fn deny_all_is_default_deny_and_stops_emitting() {
        let rules = vec![
            rule(false, DevKind::All, None, None, 7),
            rule(true, DevKind::Char, Some(1), Some(3), 7),
        ];
        assert!(!decide(&rules, DevKind::Char, 1, 5, ACC_READ));
        assert!(decide(&rules, DevKind::Char, 1, 3, ACC_WRITE));
        let prog = program(&rules);
        // prologue 6 + (3 checks + 2) + (0 checks + 2): nothing after the unconditional deny.
        assert_eq!(prog.len(), 13);
        assert_eq!(prog.last().unwrap().code, JMP_EXIT);
    }
}
