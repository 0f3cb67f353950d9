//! runc's "-ENOSYS stub": a few BPF instructions put in front of libseccomp's program so that a
//! syscall *newer* than every syscall the profile names fails with ENOSYS instead of the
//! profile's default action. Programs (glibc among them) probe a new syscall and fall back to an
//! older one only on ENOSYS; under Docker's profile (default EPERM) a libc newer than the profile
//! would otherwise break, e.g. glibc 2.39's fchmodat2. Syscalls older than the newest named one
//! still get the default action.
//!
//! The stub compares, per architecture in the filter, the syscall number against the highest
//! number named in the profile for that architecture (x32 syscalls, which arrive as x86_64 with
//! bit 30 set, against the highest x32 number). It is only added when the default action denies
//! (not ALLOW or LOG), and only on x86_64 and aarch64 hosts (the architectures whose audit tokens
//! are handled here); elsewhere libseccomp loads the filter unchanged.

use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{FromRawFd, OwnedFd};

use libc::{sock_filter, sock_fprog};
use libseccomp::{ScmpAction, ScmpArch, ScmpFilterContext, ScmpSyscall};
use nix::sys::memfd::{memfd_create, MFdFlags};
use oci_spec::runtime::{Arch, LinuxSeccomp};

use super::SeccompError;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const SCMP_ARCH_X32: u32 = 0x4000_003e;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// Offsets in `struct seccomp_data`.
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;
const RET_ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

fn native() -> Option<Arch> {
    if cfg!(target_arch = "x86_64") {
        Some(Arch::ScmpArchX86_64)
    } else if cfg!(target_arch = "aarch64") {
        Some(Arch::ScmpArchAarch64)
    } else {
        None
    }
}

/// Highest syscall number the profile names for `arch` (x32 numbers without bit 30).
fn max_nr(config: &LinuxSeccomp, arch: Arch) -> Option<u32> {
    let scmp: ScmpArch = arch.to_string().parse().ok()?;
    config
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|s| s.names())
        .filter_map(|n| ScmpSyscall::from_name_by_arch(n, scmp).ok())
        .map(|s| s.as_raw_syscall())
        // Negative numbers are libseccomp's pseudo-syscalls (absent on this arch).
        .filter(|&nr| nr >= 0)
        .map(|nr| nr as u32 & !X32_SYSCALL_BIT)
        .max()
}

/// Whether the stub is wanted for `config` (its default action denies).
pub fn wanted(config: &LinuxSeccomp, default: ScmpAction) -> bool {
    !matches!(default, ScmpAction::Allow | ScmpAction::Log)
        && default != ScmpAction::Errno(libc::ENOSYS)
        && native().is_some()
        && config.syscalls().as_ref().is_some_and(|s| !s.is_empty())
}

/// One instruction with symbolic jump targets, resolved once the stub's length is known.
#[derive(Clone, Copy)]
enum Ins {
    LoadAbs(u32),
    /// Compare the accumulator; jump when true / false.
    Jeq(u32, Tgt, Tgt),
    Jgt(u32, Tgt, Tgt),
    Jset(u32, Tgt, Tgt),
    /// Unconditional jump.
    Ja(Tgt),
    Ret(u32),
}

#[derive(Clone, Copy)]
enum Tgt {
    /// The next instruction.
    Next,
    /// Skip `n` instructions after the next one.
    Skip(u8),
    /// The `ret ENOSYS` instruction.
    Enosys,
    /// The start of libseccomp's program.
    Program,
}

/// The stub for the architectures `archs` (with their highest named syscall numbers).
fn stub(blocks: &[(u32, u32, Option<u32>)]) -> Vec<Ins> {
    let mut out = vec![Ins::LoadAbs(DATA_ARCH)];
    for &(audit, max, x32_max) in blocks {
        let body: Vec<Ins> = if audit == AUDIT_ARCH_X86_64 {
            match x32_max {
                Some(m32) => vec![
                    Ins::LoadAbs(DATA_NR),
                    Ins::Jset(X32_SYSCALL_BIT, Tgt::Skip(0), Tgt::Next),
                    Ins::Jgt(max, Tgt::Enosys, Tgt::Program),
                    Ins::Jgt(m32 | X32_SYSCALL_BIT, Tgt::Enosys, Tgt::Program),
                ],
                None => vec![
                    Ins::LoadAbs(DATA_NR),
                    Ins::Jset(X32_SYSCALL_BIT, Tgt::Program, Tgt::Next),
                    Ins::Jgt(max, Tgt::Enosys, Tgt::Program),
                ],
            }
        } else {
            vec![
                Ins::LoadAbs(DATA_NR),
                Ins::Jgt(max, Tgt::Enosys, Tgt::Program),
            ]
        };
        out.push(Ins::Jeq(audit, Tgt::Next, Tgt::Skip(body.len() as u8 - 1)));
        out.extend(body);
    }
    // No architecture matched: libseccomp's program applies its bad-arch action.
    out.push(Ins::Ja(Tgt::Program));
    out.push(Ins::Ret(RET_ENOSYS));
    out
}

/// Encodes the stub; the program follows it directly.
fn encode(stub: &[Ins]) -> Result<Vec<sock_filter>, SeccompError> {
    let enosys = stub.len() - 1;
    let program = stub.len();
    let off = |at: usize, t: Tgt| -> Result<u32, SeccompError> {
        let target = match t {
            Tgt::Next => at + 1,
            Tgt::Skip(n) => at + 2 + n as usize,
            Tgt::Enosys => enosys,
            Tgt::Program => program,
        };
        Ok((target - at - 1) as u32)
    };
    let jmp8 = |at: usize, t: Tgt| -> Result<u8, SeccompError> {
        u8::try_from(off(at, t)?).map_err(|_| SeccompError::Field {
            field: "linux.seccomp.architectures".into(),
            msg: "too many architectures for the ENOSYS stub".into(),
        })
    };
    let code = |c: u32| c as u16;
    let mut out = Vec::with_capacity(stub.len());
    for (at, ins) in stub.iter().enumerate() {
        let f = match *ins {
            Ins::LoadAbs(k) => sock_filter {
                code: code(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS),
                jt: 0,
                jf: 0,
                k,
            },
            Ins::Jeq(k, t, f) | Ins::Jgt(k, t, f) | Ins::Jset(k, t, f) => {
                let op = match *ins {
                    Ins::Jeq(..) => libc::BPF_JEQ,
                    Ins::Jgt(..) => libc::BPF_JGT,
                    _ => libc::BPF_JSET,
                };
                sock_filter {
                    code: code(libc::BPF_JMP | op | libc::BPF_K),
                    jt: jmp8(at, t)?,
                    jf: jmp8(at, f)?,
                    k,
                }
            }
            Ins::Ja(t) => sock_filter {
                code: code(libc::BPF_JMP | libc::BPF_JA),
                jt: 0,
                jf: 0,
                k: off(at, t)?,
            },
            Ins::Ret(k) => sock_filter {
                code: code(libc::BPF_RET | libc::BPF_K),
                jt: 0,
                jf: 0,
                k,
            },
        };
        out.push(f);
    }
    Ok(out)
}

fn lib(context: &str) -> impl FnOnce(libseccomp::error::SeccompError) -> SeccompError + '_ {
    move |source| SeccompError::Libseccomp {
        context: context.into(),
        source,
    }
}

fn sys(context: &str) -> impl FnOnce(nix::Error) -> SeccompError + '_ {
    move |source| SeccompError::Sys {
        context: context.into(),
        source,
    }
}

/// libseccomp's compiled program for `ctx`.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<sock_filter>, SeccompError> {
    let mut f = std::fs::File::from(
        memfd_create("berth-seccomp-bpf", MFdFlags::MFD_CLOEXEC).map_err(sys("memfd_create"))?,
    );
    ctx.export_bpf(&f).map_err(lib("export BPF"))?;
    let io = |e: std::io::Error| SeccompError::Sys {
        context: "read exported BPF".into(),
        source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    };
    f.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes
        .chunks_exact(8)
        .map(|c| sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

/// libseccomp's program for `ctx`, with the stub in front; the notify listener is asked for when
/// `notify`.
pub fn compile(
    ctx: &ScmpFilterContext,
    config: &LinuxSeccomp,
    notify: bool,
) -> Result<super::Program, SeccompError> {
    let Some(native) = native() else {
        return Err(SeccompError::Agent {
            path: String::new(),
            msg: "ENOSYS stub requested on an unsupported architecture".into(),
        });
    };
    let mut archs: Vec<Arch> = vec![native];
    archs.extend(config.architectures().iter().flatten().copied());
    let x32_max = archs
        .contains(&Arch::ScmpArchX32)
        .then(|| max_nr(config, Arch::ScmpArchX32))
        .flatten();
    let mut blocks = Vec::new();
    let mut seen = Vec::new();
    for a in archs {
        let token = a as u32;
        if token == SCMP_ARCH_X32 || seen.contains(&token) {
            continue;
        }
        seen.push(token);
        if let Some(max) = max_nr(config, a) {
            let x32 = if token == AUDIT_ARCH_X86_64 {
                x32_max
            } else {
                None
            };
            blocks.push((token, max, x32));
        }
    }
    let mut prog = encode(&stub(&blocks))?;
    prog.extend(export(ctx)?);
    super::Program::new(prog, filter_flags(ctx, notify))
}

/// libseccomp's program for `ctx` alone, for a raw load (see [`load`]).
pub fn compile_plain(
    ctx: &ScmpFilterContext,
    notify: bool,
) -> Result<super::Program, SeccompError> {
    super::Program::new(export(ctx)?, filter_flags(ctx, notify))
}

/// The seccomp(2) flags libseccomp's own load would pass for `ctx`'s attributes.
fn filter_flags(ctx: &ScmpFilterContext, notify: bool) -> libc::c_ulong {
    let mut flags: libc::c_ulong = 0;
    let attr = |r: Result<bool, libseccomp::error::SeccompError>| r.unwrap_or(false);
    if attr(ctx.get_ctl_tsync()) {
        flags |= libc::SECCOMP_FILTER_FLAG_TSYNC;
        if notify {
            flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
    }
    if attr(ctx.get_ctl_log()) {
        flags |= libc::SECCOMP_FILTER_FLAG_LOG;
    }
    if attr(ctx.get_ctl_ssb()) {
        flags |= libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    }
    if attr(ctx.get_ctl_waitkill()) {
        flags |= libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    }
    if notify {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
    }
    flags
}

/// Loads a compiled program into the calling process; returns the notify listener when the
/// program's flags ask for one.
pub fn load(p: &super::Program) -> Result<Option<OwnedFd>, SeccompError> {
    let mut filter = p.filter.clone();
    let fprog = sock_fprog {
        len: u16::try_from(filter.len()).map_err(|_| SeccompError::Field {
            field: "linux.seccomp.syscalls".into(),
            msg: format!(
                "the filter has {} BPF instructions, more than 65535",
                filter.len()
            ),
        })?,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: seccomp(2) reads `fprog` and the `filter` buffer it points to, both alive for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            p.flags,
            &fprog as *const sock_fprog,
        )
    };
    if r < 0 {
        return Err(sys("seccomp(SECCOMP_SET_MODE_FILTER)")(nix::Error::last()));
    }
    let notify = p.flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0;
    // SAFETY: with NEW_LISTENER the kernel returns a fresh listener fd that nothing else owns.
    Ok(notify.then(|| unsafe { OwnedFd::from_raw_fd(r as i32) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stub_jumps_land_on_enosys_or_program() {
        let s = stub(&[
            (AUDIT_ARCH_X86_64, 449, Some(547)),
            (0x4000_0003, 450, None),
        ]);
        let enc = encode(&s).unwrap();
        let len = enc.len();
        for (i, f) in enc.iter().enumerate() {
            if f.code == (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16 {
                assert_eq!(i + 1 + f.jt as usize, len - 1, "jgt true → ret ENOSYS");
                assert_eq!(i + 1 + f.jf as usize, len, "jgt false → program");
            }
        }
        assert_eq!(enc[len - 1].k, RET_ENOSYS);
        assert_eq!(enc[0].k, DATA_ARCH);
    }
}
